#include "grpcpp_grpc_prober.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "agent/grpc_health_codec.h"
#include "agent/pod_address.h"

namespace meshprobe::agent {
namespace {

// One call's state. gRPC runs the completion callback on its own thread; the call is freed on
// the agent's thread afterwards, never by gRPC's destruction of that callback.
struct Call {
  std::unique_ptr<grpc::GenericStub> stub;
  grpc::ClientContext context;
  grpc::ByteBuffer request;
  grpc::ByteBuffer response;
};

ProbeOutcome outcome_of(const grpc::Status& status, const grpc::ByteBuffer& response,
                        const std::string& service) {
  if (!status.ok()) {
    const auto reason =
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED ? FailureReason::kTimeout
        : status.error_code() == grpc::StatusCode::UNAVAILABLE     ? FailureReason::kConnectionError
                                                                   : FailureReason::kGrpcStatus;
    return ProbeOutcome::failure(reason, "gRPC status " + std::to_string(status.error_code()) +
                                             ": " + status.error_message());
  }
  grpc::Slice slice;
  if (!response.DumpToSingleSlice(&slice).ok())
    return ProbeOutcome::failure(FailureReason::kProtocolError, "unreadable answer");
  auto serving = decode_health_check_message(
      std::string_view(reinterpret_cast<const char*>(slice.begin()), slice.size()));
  if (!serving)
    return ProbeOutcome::failure(FailureReason::kProtocolError, serving.error().message);
  if (*serving != ServingStatus::kServing) {
    return ProbeOutcome::failure(
        FailureReason::kNotServing,
        "service \"" + service + "\" is " + std::string(serving_status_name(*serving)));
  }
  return ProbeOutcome::success();
}

}  // namespace

void GrpcppGrpcProber::probe(const probe::GrpcAction& action, std::chrono::seconds timeout,
                             std::string user_agent, ProbeCallback done) {
  const std::string address = dial_addresses(probe_host("", pod_ip_), pod_ip_).front();
  const std::string target =
      (address.find(':') != std::string::npos ? "[" + address + "]" : address) + ":" +
      std::to_string(action.port);
  grpc::ChannelArguments arguments;
  arguments.SetUserAgentPrefix(user_agent);
  // A new channel per probe, as the kubelet makes a new connection per probe.
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), arguments);
  auto* call = new Call;
  call->stub = std::make_unique<grpc::GenericStub>(channel);
  call->context.set_deadline(std::chrono::system_clock::now() + timeout);
  const std::string service = action.service.value_or("");
  const std::string message = encode_health_check_message(service);  // gRPC frames it itself
  grpc::Slice slice(message.data(), message.size());
  call->request = grpc::ByteBuffer(&slice, 1);
  call->stub->UnaryCall(
      &call->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &call->request,
      &call->response,
      [call, service, executor = executor_, done = std::move(done)](grpc::Status status) {
        auto outcome = outcome_of(status, call->response, service);
        asio::post(executor, [done, outcome, call] {  // back to the agent's loop
          std::unique_ptr<Call> finished(call);
          done(outcome);
        });
      });
}

}  // namespace meshprobe::agent

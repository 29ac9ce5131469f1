#include "tests/testing/reflection_client.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "grpc/reflection/v1alpha/reflection.grpc.pb.h"

namespace coffer::testing {

absl::StatusOr<std::vector<std::string>> ReflectedServices(
    const std::shared_ptr<grpc::Channel>& channel) {
  auto stub = grpc::reflection::v1alpha::ServerReflection::NewStub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto stream = stub->ServerReflectionInfo(&context);
  grpc::reflection::v1alpha::ServerReflectionRequest request;
  request.set_list_services("");
  if (!stream->Write(request)) return absl::UnavailableError("reflection: request not written");
  grpc::reflection::v1alpha::ServerReflectionResponse response;
  if (!stream->Read(&response)) return absl::UnavailableError("reflection: no answer");
  std::vector<std::string> names;
  for (const auto& service : response.list_services_response().service()) {
    names.push_back(service.name());
  }
  stream->WritesDone();
  const grpc::Status finished = stream->Finish();
  if (!finished.ok()) {
    return absl::UnavailableError(absl::StrCat("reflection: ", finished.error_message()));
  }
  return names;
}

}  // namespace coffer::testing

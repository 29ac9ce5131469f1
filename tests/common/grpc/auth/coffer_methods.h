// Every method of the coffer API, read from the protobuf descriptors of the
// generated code, for tests that must cover each RPC (method_roles,
// CallAuthorizer, the integration auth test).
#ifndef COFFER_TESTS_COMMON_GRPC_AUTH_COFFER_METHODS_H_
#define COFFER_TESTS_COMMON_GRPC_AUTH_COFFER_METHODS_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"

#include "coffer/v1/admin.grpc.pb.h"
#include "coffer/v1/fetcher.grpc.pb.h"
#include "coffer/v1/scheduler.grpc.pb.h"
#include "coffer/v1/storage.grpc.pb.h"

namespace coffer::testing {

struct CofferMethod {
  std::string service;    // "coffer.v1.Storage"
  std::string full_name;  // "/coffer.v1.Storage/AddAccounts"
  bool server_streaming;
};

// The methods of every service in the four coffer API protos. A message of
// each file is named, so its descriptors are linked and registered.
inline std::vector<CofferMethod> AllCofferMethods() {
  const google::protobuf::FileDescriptor* files[] = {
      v1::GetStatusRequest::descriptor()->file(),
      v1::QueryBalancesRequest::descriptor()->file(),
      v1::CreateTaskRequest::descriptor()->file(),
      v1::AddAccountsRequest::descriptor()->file(),
  };
  std::vector<CofferMethod> methods;
  for (const google::protobuf::FileDescriptor* file : files) {
    for (int s = 0; s < file->service_count(); ++s) {
      const google::protobuf::ServiceDescriptor* service = file->service(s);
      for (int m = 0; m < service->method_count(); ++m) {
        const google::protobuf::MethodDescriptor* method = service->method(m);
        methods.push_back({service->full_name(), "/" + service->full_name() + "/" + method->name(),
                           method->server_streaming()});
      }
    }
  }
  return methods;
}

// Only the methods of `service` ("coffer.v1.Storage").
inline std::vector<CofferMethod> CofferMethodsOf(const std::string& service) {
  std::vector<CofferMethod> methods;
  for (CofferMethod& method : AllCofferMethods()) {
    if (method.service == service) methods.push_back(std::move(method));
  }
  return methods;
}

}  // namespace coffer::testing

#endif  // COFFER_TESTS_COMMON_GRPC_AUTH_COFFER_METHODS_H_

#include "services/scheduler/lease/lease_store.h"

#include <utility>

namespace coffer::scheduler {

void GrpcLeaseStore::Acquire(const v1::AcquireLeaseRequest& request,
                             Done<v1::AcquireLeaseResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncAcquireLease, request, std::move(done),
                {.timeout = call_timeout_});
}

void GrpcLeaseStore::Renew(const v1::RenewLeaseRequest& request,
                           Done<v1::RenewLeaseResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncRenewLease, request, std::move(done),
                {.timeout = call_timeout_});
}

void GrpcLeaseStore::Release(const v1::ReleaseLeaseRequest& request,
                             Done<v1::ReleaseLeaseResponse> done) {
  client_->Call(&v1::Storage::Stub::PrepareAsyncReleaseLease, request, std::move(done),
                {.timeout = call_timeout_});
}

}  // namespace coffer::scheduler

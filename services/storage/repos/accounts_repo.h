// Accounts in the database (Storage.AddAccounts, RemoveAccounts,
// ListAccounts): validation, idempotent registration and paged listing, as
// protos/coffer/v1/storage.proto documents them. Each function is the work
// of one db::ConnectionPool Write or Read and runs on the pool's thread:
//
//   pool->Write(
//       [&request, response](db::WriteContext& tx) {
//         return AddAccounts(tx, request, response, absl::Now());
//       },
//       std::move(done));
//
// A returned error undoes everything the call wrote (the pool rolls its
// savepoint back); the response is then meaningless.
#ifndef COFFER_SERVICES_STORAGE_REPOS_ACCOUNTS_REPO_H_
#define COFFER_SERVICES_STORAGE_REPOS_ACCOUNTS_REPO_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/time/time.h"

#include "coffer/v1/storage.pb.h"
#include "services/storage/db/connection_pool.h"

namespace coffer::storage {

// Most accounts one AddAccounts or ids one RemoveAccounts takes.
inline constexpr size_t kMaxAccountsPerBatch = 10000;
// Most invalid items an all-or-nothing AddAccounts names in its error.
inline constexpr size_t kMaxNamedInvalidItems = 20;

// Registers accounts, idempotently; one result per requested account, in
// request order. `now` is storage's clock (created_at, updated_at).
// INVALID_ARGUMENT for an empty batch or, with all_or_nothing, for any
// invalid item (nothing written; the message names up to 20 items by index
// and id); RESOURCE_EXHAUSTED past kMaxAccountsPerBatch.
[[nodiscard]] absl::Status AddAccounts(db::WriteContext& tx, const v1::AddAccountsRequest& request,
                                       v1::AddAccountsResponse* response, absl::Time now);

// Unregisters accounts (with delete_history, also their snapshot items, those
// already handed over in parts of a snapshot not yet committed included, and
// latest balances); one result per id, in request order. An id not
// registered is removed = false; an invalid one carries its error.
[[nodiscard]] absl::Status RemoveAccounts(db::WriteContext& tx,
                                          const v1::RemoveAccountsRequest& request,
                                          v1::RemoveAccountsResponse* response);

// One page of registered accounts, by account_id, filtered by chain and tags;
// with ACCOUNT_VIEW_IDS only their account_id and asset_ids. INVALID_ARGUMENT
// for a malformed filter, an unknown view, a negative page size or a page
// token that is not one this call gave for the same filters (in any view).
[[nodiscard]] absl::Status ListAccounts(db::ReadContext& tx, const v1::ListAccountsRequest& request,
                                        v1::ListAccountsResponse* response);

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_REPOS_ACCOUNTS_REPO_H_

// The storage service's database schema, as the numbered migrations
// db::ApplyMigrations applies at startup.
//
//   RETURN_IF_ERROR(db::ApplyMigrations(connection->raw(), path, key.Reveal(),
//                                       schema::Migrations()));
//
// Conventions of every table (see schema.cc for each table's purpose):
//  - times are INTEGER unix nanoseconds (UTC), set from storage's clock
//    unless a column says it was reported by someone else;
//  - ids are the normalized CAIP strings common/chain answers, so equal ids
//    compare equal as text;
//  - exact amounts are (units TEXT of decimal digits, decimals INTEGER),
//    never REAL: a uint256 balance does not fit an INTEGER;
//  - errors are (error_code INTEGER = coffer.v1.Error.Code, error_message,
//    error_upstream).
// Migrations are append-only: a released migration is never edited; a change
// is a new migration (and a test upgrading from every older version).
#ifndef COFFER_SERVICES_STORAGE_SCHEMA_SCHEMA_H_
#define COFFER_SERVICES_STORAGE_SCHEMA_SCHEMA_H_

#include "absl/types/span.h"

#include "services/storage/db/migrations.h"

namespace coffer::storage {

// Every migration, numbered 1, 2, ... in order. The span stays valid for the
// life of the process.
absl::Span<const db::Migration> Migrations();

}  // namespace coffer::storage

#endif  // COFFER_SERVICES_STORAGE_SCHEMA_SCHEMA_H_

// Which snapshots are open (written in parts, not committed: schema.cc,
// version 6), as SQL the repositories splice into their statements, so that
// every reader leaves them out the same way:
//
//   "... AND i.snapshot_id NOT IN " COFFER_OPEN_SNAPSHOT_IDS
//
// The ids are listed once per statement from the partial index
// snapshots_open (open snapshots only, a handful at most), so the index a
// statement is driven by still serves its range and order.
#ifndef COFFER_SERVICES_STORAGE_REPOS_OPEN_SNAPSHOTS_H_
#define COFFER_SERVICES_STORAGE_REPOS_OPEN_SNAPSHOTS_H_

#define COFFER_OPEN_SNAPSHOT_IDS "(SELECT snapshot_id FROM snapshots WHERE open_since IS NOT NULL)"

#endif  // COFFER_SERVICES_STORAGE_REPOS_OPEN_SNAPSHOTS_H_

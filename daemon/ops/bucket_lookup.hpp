// Shared by the ops that act on one existing bucket: the `bucket` argument checked and looked
// up, or the request already answered with invalid_name / not_found.
#pragma once

#include "daemon/ops/ops.hpp"

namespace kvd {

OpBucket* existing_bucket(OpContext& ctx);
// Answers invalid_name and returns false when the `bucket` argument is not a valid name.
bool valid_bucket_arg(OpContext& ctx);

}  // namespace kvd

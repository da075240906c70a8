use crate::{ErrorCode, SecondFactorKind};
use serde::{Deserialize, Serialize};

/// The JSON body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable code, part of the API.
    pub error: ErrorCode,
    /// For people; Japanese first.
    pub message: String,
    /// With `second_factor_required`: the kinds the account has, `totp` and/or `passkey`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub second_factors: Vec<SecondFactorKind>,
}

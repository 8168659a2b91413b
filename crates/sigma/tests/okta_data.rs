//! okta_data

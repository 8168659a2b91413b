//! correlations

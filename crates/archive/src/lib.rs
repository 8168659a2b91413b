//! The archive tier: events sealed from the SQLite hot tier into Parquet segments (Hive layout
//! `org=…/date=…/hour=…`), recorded in the store's catalog and covered by its hash chain;
//! queries that span both tiers; and, behind a feature, SQL over them with DataFusion.

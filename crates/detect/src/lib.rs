//! Streaming and retroactive detection: follows the store by insertion sequence, runs the
//! compiled Sigma rule set and correlator over every newly stored event (so late events are
//! evaluated too), applies allowlists, and writes alerts; its read position and correlation
//! state are committed together so a restart neither re-alerts nor skips.

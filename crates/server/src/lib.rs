//! idwatch's HTTP edge: the Okta Event Hook receiver (verification handshake, authenticated
//! delivery stored durably before answering), Prometheus metrics, the JSON API and the web UI.
//! The router comes from one function so tests can drive it without a socket.

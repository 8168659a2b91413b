//! Syslog delivery: resolves the collector's address at each attempt (so a DNS change or a
//! collector coming back on a new address is picked up), then sends one UDP datagram, or opens
//! a TCP connection and writes one octet-counted frame (`LEN SP MSG`). Success means the bytes
//! were handed to the network (UDP) or written and flushed (TCP): syslog has no receipt.

use super::config::{SyslogFormat, SyslogProtocol, SyslogSinkConfig};
use super::encode::{cef_line, plain_msg, rfc5424_line, HeaderFields};
use crate::error::{ConfigError, DeliveryError, FailureClass};
use crate::sink::{BuildContext, Delivery};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Datagrams above this are refused by many collectors (RFC 5426 asks for 2048 at least; we
/// stay well under the 65,507-byte UDP limit).
const UDP_MAX: usize = 8192;

/// A built syslog sink.
#[derive(Debug)]
pub struct SyslogSink {
    name: String,
    address: String,
    protocol: SyslogProtocol,
    format: SyslogFormat,
    header: HeaderFields,
    timeout: Duration,
}

fn machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "-".into())
}

impl SyslogSink {
    /// Validates and builds the sink.
    pub fn new(
        name: &str,
        config: &SyslogSinkConfig,
        ctx: &BuildContext,
    ) -> Result<SyslogSink, ConfigError> {
        config.validate(name)?;
        Ok(SyslogSink {
            name: name.to_string(),
            address: config.address.clone(),
            protocol: config.protocol,
            format: config.format,
            header: HeaderFields {
                facility: config.facility,
                hostname: config.hostname.clone().unwrap_or_else(machine_hostname),
                app_name: config.app_name.clone().unwrap_or_else(|| "idwatch".into()),
                proc_id: std::process::id().to_string(),
            },
            timeout: ctx.timeout,
        })
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The line this sink sends for a delivery at `now`.
    pub fn line(&self, delivery: &Delivery<'_>, now: chrono::DateTime<chrono::Utc>) -> String {
        let msg = match self.format {
            SyslogFormat::Rfc5424 => plain_msg(delivery.message),
            SyslogFormat::Cef => cef_line(delivery.message, delivery.idempotency_key),
        };
        rfc5424_line(
            delivery.message,
            delivery.idempotency_key,
            &self.header,
            &msg,
            now,
        )
    }

    /// Sends the line.
    pub async fn deliver(&self, delivery: &Delivery<'_>) -> Result<Option<u16>, DeliveryError> {
        let retry = |reason: String| DeliveryError {
            sink: self.name.clone(),
            alert_id: delivery.alert.id,
            class: FailureClass::Retriable { retry_after: None },
            status: None,
            reason,
        };
        let mut line = self.line(delivery, chrono::Utc::now());
        let send = async {
            let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(&self.address)
                .await
                .map_err(|e| retry(format!("resolving {}: {e}", self.address)))?
                .collect();
            let addr = addrs
                .first()
                .copied()
                .ok_or_else(|| retry(format!("{} resolves to no address", self.address)))?;
            match self.protocol {
                SyslogProtocol::Udp => {
                    if line.len() > UDP_MAX {
                        let mut cut = UDP_MAX;
                        while !line.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        line.truncate(cut);
                    }
                    let local = if addr.is_ipv4() {
                        "0.0.0.0:0"
                    } else {
                        "[::]:0"
                    };
                    let socket = tokio::net::UdpSocket::bind(local)
                        .await
                        .map_err(|e| retry(format!("opening a UDP socket: {e}")))?;
                    socket
                        .send_to(line.as_bytes(), addr)
                        .await
                        .map_err(|e| retry(format!("sending to udp://{addr}: {e}")))?;
                }
                SyslogProtocol::Tcp => {
                    let mut stream = tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| retry(format!("connecting to tcp://{addr}: {e}")))?;
                    let frame = format!("{} {line}", line.len());
                    stream
                        .write_all(frame.as_bytes())
                        .await
                        .map_err(|e| retry(format!("writing to tcp://{addr}: {e}")))?;
                    stream
                        .flush()
                        .await
                        .map_err(|e| retry(format!("flushing tcp://{addr}: {e}")))?;
                    // A clean close, so the collector sees the end of the stream.
                    let _ = stream.shutdown().await;
                }
            }
            Ok(None)
        };
        tokio::time::timeout(self.timeout, send)
            .await
            .map_err(|_| {
                retry(format!(
                    "timed out after {:?} sending to {}",
                    self.timeout, self.address
                ))
            })?
    }
}

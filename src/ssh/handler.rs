//! One SSH connection: public-key sign-in as an operator, then one pty
//! session running the console. Everything else is refused: passwords,
//! keyboard-interactive, certificates, exec, subsystems (sftp), X11,
//! agent and port forwarding, a second channel.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use ratatui::crossterm::event::Event;
use russh::server::{Auth, ChannelOpenHandle, Msg, PublicKeyOffer, Session, VerifiedPublicKey};
use russh::{Channel, ChannelId, Pty};
use tokio::sync::mpsc;

use super::input::InputParser;
use super::preauth::Startup;
use super::session::{self, Shared, Spec};
use super::throttle::AuthThrottle;
use crate::desk::operator_keys::fingerprint;
use crate::desk::{ConsoleVia, Identity, Operator};

/// The line an `ssh host command` (or sftp) client is shown.
pub const ONLY_CONSOLE: &str = "keydesk: this server runs only the console; commands, subsystems and forwarding are refused\r\n";
/// The line a client without a pty is shown.
pub const NEEDS_PTY: &str = "keydesk: the console needs a terminal; connect with `ssh -t`\r\n";

/// What the connection handler needs from the server.
#[derive(Debug, Clone)]
pub struct ServerState {
    /// Shared by every session.
    pub shared: Shared,
    /// Refused sign-ins by address.
    pub throttle: Arc<AuthThrottle>,
}

/// The pty the client asked for.
#[derive(Debug, Clone)]
struct PtyRequest {
    term: String,
    size: (u16, u16),
}

/// Per-connection state.
pub struct Connection {
    state: ServerState,
    peer: Option<SocketAddr>,
    /// Its place among the unauthenticated connections, given back at sign-in.
    startup: Startup,
    operator: Option<Operator>,
    /// The `SHA256:` fingerprint of the key the operator signed in with.
    key: Option<String>,
    channel: Option<ChannelId>,
    pty: Option<PtyRequest>,
    no_color: bool,
    input: Option<mpsc::UnboundedSender<Event>>,
    parser: InputParser,
}

impl Connection {
    /// A connection from `peer`, admitted by the pre-authentication gate.
    #[must_use]
    pub fn new(state: ServerState, peer: Option<SocketAddr>, startup: Startup) -> Self {
        Self {
            state,
            peer,
            startup,
            operator: None,
            key: None,
            channel: None,
            pty: None,
            no_color: false,
            input: None,
            parser: InputParser::new(),
        }
    }

    fn ip(&self) -> IpAddr {
        self.peer
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.ip())
    }

    /// `ssh ADDRESS:PORT`, the form desk uses for SSH sources.
    fn source(&self) -> String {
        self.peer.map_or_else(
            || "ssh unknown".to_owned(),
            |p| format!("ssh {}:{}", p.ip(), p.port()),
        )
    }

    async fn slow_down(&self) {
        let wait = self.state.throttle.delay(self.ip(), Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    fn refused(&self, method: &str, detail: &str, key: Option<&russh::keys::PublicKey>) -> Auth {
        let failures = self.state.throttle.failed(self.ip(), Instant::now());
        // The fingerprint of a refused key is logged so an admin can tell
        // whose it is; a password never is.
        let key = key.map(fingerprint).unwrap_or_default();
        tracing::warn!(source = %self.source(), method, detail, key = %key, failures, "ssh sign-in refused");
        Auth::Reject {
            proceed_with_methods: None,
            partial_success: false,
        }
    }

    async fn key_owner(&self, key: &russh::keys::PublicKey) -> Option<Operator> {
        match self
            .state
            .shared
            .desk
            .operator_by_key(key, &self.source())
            .await
        {
            Ok(op) => op,
            Err(err) => {
                tracing::error!(error = %err, "ssh sign-in: looking up the key failed");
                None
            }
        }
    }

    /// Refuses a subsystem (or a second request) at the protocol level.
    fn refuse_channel_request(
        session: &mut Session,
        channel: ChannelId,
    ) -> Result<(), russh::Error> {
        session.channel_failure(channel)?;
        session.close(channel)
    }

    /// Ends an exec or pty-less shell request without running anything:
    /// the client is told why on stderr and exits with status 1. (A bare
    /// protocol failure would leave OpenSSH saying only "exec request
    /// failed".)
    fn explain_and_close(
        session: &mut Session,
        channel: ChannelId,
        why: &str,
    ) -> Result<(), russh::Error> {
        session.channel_success(channel)?;
        session.extended_data(channel, 1, why.as_bytes().to_vec())?;
        session.exit_status_request(channel, 1)?;
        session.eof(channel)?;
        session.close(channel)
    }
}

impl russh::server::Handler for Connection {
    type Error = russh::Error;

    async fn auth_none(&mut self, _user: &str) -> Result<Auth, Self::Error> {
        // The probe every OpenSSH client sends first; not a failure.
        Ok(Auth::reject())
    }

    async fn auth_password(&mut self, _user: &str, _password: &str) -> Result<Auth, Self::Error> {
        self.slow_down().await;
        // The password itself is never logged.
        Ok(self.refused("password", "only public keys are accepted", None))
    }

    async fn auth_keyboard_interactive<'a>(
        &'a mut self,
        _user: &str,
        _submethods: &str,
        _response: Option<russh::server::Response<'a>>,
    ) -> Result<Auth, Self::Error> {
        self.slow_down().await;
        Ok(self.refused(
            "keyboard-interactive",
            "only public keys are accepted",
            None,
        ))
    }

    async fn auth_publickey_offered(
        &mut self,
        _user: &str,
        offer: PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        self.slow_down().await;
        if self.key_owner(offer.public_key).await.is_some() {
            Ok(Auth::Accept)
        } else {
            Ok(self.refused("publickey", "unknown key", Some(offer.public_key)))
        }
    }

    async fn auth_publickey(
        &mut self,
        _user: &str,
        key: VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        // The SSH user name is ignored: the key alone says who this is.
        match self.key_owner(key.public_key).await {
            Some(op) => {
                self.state.throttle.succeeded(self.ip());
                self.startup.authenticated();
                let fp = fingerprint(key.public_key);
                tracing::info!(operator = %op.name, role = %op.role, source = %op.source, key = %fp, "ssh sign-in");
                self.operator = Some(op);
                self.key = Some(fp);
                Ok(Auth::Accept)
            }
            None => Ok(self.refused("publickey", "unknown key", Some(key.public_key))),
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<Msg>,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if self.operator.is_none() || self.channel.is_some() {
            // One console per connection; dropping the reply refuses.
            drop(reply);
            return Ok(());
        }
        self.channel = Some(channel.id());
        reply.accept().await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if Some(channel) != self.channel || self.input.is_some() {
            return session.channel_failure(channel);
        }
        self.pty = Some(PtyRequest {
            term: term
                .chars()
                .filter(char::is_ascii_graphic)
                .take(64)
                .collect(),
            size: (clamp(col_width), clamp(row_height)),
        });
        session.channel_success(channel)
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        variable_name: &str,
        variable_value: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        if variable_name == "NO_COLOR" {
            self.no_color = !variable_value.is_empty();
            return session.channel_success(channel);
        }
        // Nothing else in the client's environment matters here.
        session.channel_failure(channel)
    }

    async fn shell_request(
        &mut self,
        channel: ChannelId,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        let (Some(op), Some(pty)) = (self.operator.clone(), self.pty.clone()) else {
            return Self::explain_and_close(session, channel, NEEDS_PTY);
        };
        if Some(channel) != self.channel || self.input.is_some() {
            return session.channel_failure(channel);
        }
        session.channel_success(channel)?;
        let (tx, rx) = mpsc::unbounded_channel();
        self.input = Some(tx);
        let spec = Spec {
            operator: op.name,
            source: op.source,
            size: pty.size,
            term: pty.term,
            no_color: self.no_color,
        };
        let shared = self.state.shared.clone();
        let handle = session.handle();
        let via = ConsoleVia::Ssh {
            key_fingerprint: self.key.clone().unwrap_or_default(),
        };
        tokio::spawn(async move {
            let identity = Identity {
                name: spec.operator.clone(),
                source: spec.source.clone(),
            };
            // Audited by desk: who, from where, with which key, how long.
            let audit = shared.desk.console_started(&identity, via).await;
            tracing::info!(operator = %spec.operator, source = %spec.source, session = %audit.id(), term = %spec.term, cols = spec.size.0, rows = spec.size.1, "ssh session started");
            let (operator, source) = (spec.operator.clone(), spec.source.clone());
            let (active, desk) = (Arc::clone(&shared.active), shared.desk.clone());
            let end = session::run(shared, spec, handle, channel, rx).await;
            desk.console_ended(&audit, end.audit_reason()).await;
            tracing::info!(
                %operator, %source, session = %audit.id(), reason = end.as_str(),
                active = active.load(std::sync::atomic::Ordering::SeqCst),
                "ssh session ended"
            );
        });
        Ok(())
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _data: &[u8],
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        // The command is not logged: it may hold anything.
        tracing::warn!(source = %self.source(), "ssh exec request refused");
        Self::explain_and_close(session, channel, ONLY_CONSOLE)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::warn!(source = %self.source(), subsystem = %name.escape_debug(), "ssh subsystem request refused");
        Self::refuse_channel_request(session, channel)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single_connection: bool,
        _x11_auth_protocol: &str,
        _x11_auth_cookie: &str,
        _x11_screen_number: u32,
        session: &mut Session,
    ) -> Result<(), Self::Error> {
        session.channel_failure(channel)
    }

    async fn agent_request(
        &mut self,
        _channel: ChannelId,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        Ok(false)
    }

    async fn tcpip_forward(
        &mut self,
        _address: &str,
        _port: &mut u32,
        _session: &mut Session,
    ) -> Result<bool, Self::Error> {
        tracing::warn!(source = %self.source(), "ssh port forwarding refused");
        Ok(false)
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<Msg>,
        _host_to_connect: &str,
        _port_to_connect: u32,
        _originator_address: &str,
        _originator_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        tracing::warn!(source = %self.source(), "ssh port forwarding refused");
        drop(reply);
        Ok(())
    }

    async fn data(
        &mut self,
        channel: ChannelId,
        data: &[u8],
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if Some(channel) != self.channel {
            return Ok(());
        }
        if let Some(input) = &self.input {
            for event in self.parser.parse(data) {
                let _ = input.send(event);
            }
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        col_width: u32,
        row_height: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if Some(channel) != self.channel {
            return Ok(());
        }
        let size = (clamp(col_width), clamp(row_height));
        if let Some(pty) = &mut self.pty {
            pty.size = size;
        }
        if let Some(input) = &self.input {
            let _ = input.send(Event::Resize(size.0, size.1));
        }
        Ok(())
    }

    async fn channel_eof(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if Some(channel) == self.channel {
            // No more input: the console ends and closes the channel.
            self.input = None;
        }
        Ok(())
    }

    async fn channel_close(
        &mut self,
        channel: ChannelId,
        _session: &mut Session,
    ) -> Result<(), Self::Error> {
        if Some(channel) == self.channel {
            self.input = None;
        }
        Ok(())
    }
}

/// A terminal dimension from the client, kept within what a screen can be.
fn clamp(v: u32) -> u16 {
    u16::try_from(v.clamp(1, 1000)).unwrap_or(1000)
}

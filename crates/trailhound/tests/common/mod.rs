//! Helpers shared by the CLI tests that need a local AWS endpoint.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server (S3, SQS, SNS) on a free loopback port, killed on drop. Fails the test with
/// a clear message when python3 or moto is missing (`scripts/test-deps.sh` installs them).
pub(crate) struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub(crate) url: String,
}

impl Moto {
    /// Starts the server and waits until it accepts connections.
    pub(crate) fn start() -> Moto {
        let probe = Command::new("python3")
            .args(["-c", "import moto.server"])
            .output()
            .unwrap_or_else(|e| panic!("python3 is needed (scripts/test-deps.sh): {e}"));
        assert!(
            probe.status.success(),
            "moto is needed: run scripts/test-deps.sh (pip install 'moto[server]')\n{}",
            String::from_utf8_lossy(&probe.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("moto server exited ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "moto did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

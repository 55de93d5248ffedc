//! Writes signed, chained digest files for the log files already under a tree, and the
//! public key file `keys.json` beside `AWSLogs/`, the way CloudTrail would have delivered them.
//!
//! ```text
//! cargo run -p trailhound-verify --example sign_tree -- ROOT KEY.pem ACCOUNT REGION TRAIL FIRST_END HOURS
//! ```

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use trailhound_core::Timestamp;
use trailhound_verify::{ChainSpec, DigestSigner};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [root, key, account, region, trail, first_end, hours] = args.as_slice() else {
        eprintln!("usage: sign_tree ROOT KEY.pem ACCOUNT REGION TRAIL FIRST_END HOURS");
        return ExitCode::from(2);
    };
    match run(root, key, account, region, trail, first_end, hours) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(2)
        }
    }
}

fn run(
    root: &str,
    key: &str,
    account: &str,
    region: &str,
    trail: &str,
    first_end: &str,
    hours: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let signer = DigestSigner::from_pkcs1_pem(&std::fs::read_to_string(key)?)?;
    let first_end = Timestamp::parse(first_end)?;
    let root = std::path::Path::new(root);
    let spec = ChainSpec {
        bucket: "amzn-s3-demo-bucket",
        account,
        region,
        trail,
        first_end,
        hours: hours.parse()?,
    };
    let digests = signer.write_chain(root, &spec)?;
    let keys = signer.public_key_list(first_end.add_secs(-86_400), first_end.add_secs(86_400 * 30));
    std::fs::write(root.join("keys.json"), serde_json::to_string_pretty(&keys)?)?;
    for digest in digests {
        println!("{}", digest.display());
    }
    Ok(())
}

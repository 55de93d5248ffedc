//! `userIdentity` objects per identity type, rendered once per session.

use std::fmt::Write as _;

use crate::record::time_string;

/// An IAM user calling with a long-term key (`key` empty for console sessions).
pub(crate) fn iam_user(account: &str, user: &str, principal_id: &str, key: &str) -> String {
    let mut s = format!(
        "{{\"type\":\"IAMUser\",\"principalId\":\"{principal_id}\",\"arn\":\"arn:aws:iam::{account}:user/{user}\",\"accountId\":\"{account}\""
    );
    if !key.is_empty() {
        let _ = write!(s, ",\"accessKeyId\":\"{key}\"");
    }
    let _ = write!(s, ",\"userName\":\"{user}\"}}");
    s
}

/// An IAM user in a console session (temporary key, session context with MFA).
pub(crate) fn iam_user_console(
    account: &str,
    user: &str,
    principal_id: &str,
    key: &str,
    created: i64,
    mfa: bool,
) -> String {
    format!(
        "{{\"type\":\"IAMUser\",\"principalId\":\"{principal_id}\",\"arn\":\"arn:aws:iam::{account}:user/{user}\",\"accountId\":\"{account}\",\"accessKeyId\":\"{key}\",\"userName\":\"{user}\",\"sessionContext\":{{\"attributes\":{{\"creationDate\":\"{}\",\"mfaAuthenticated\":\"{mfa}\"}}}}}}",
        time_string(created)
    )
}

/// Options of a role session identity.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SessionOpts<'a> {
    pub(crate) mfa: bool,
    pub(crate) ec2: bool,
    pub(crate) invoked_by: Option<&'a str>,
    pub(crate) source_identity: Option<&'a str>,
}

/// The ARN of a role session.
pub(crate) fn session_arn(account: &str, role: &str, session: &str) -> String {
    format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
}

/// An assumed-role session.
#[allow(clippy::too_many_arguments)]
pub(crate) fn role_session(
    account: &str,
    role: &str,
    role_id: &str,
    session: &str,
    key: &str,
    created: i64,
    opts: SessionOpts<'_>,
) -> String {
    let path = if role.starts_with("AWSReservedSSO_") {
        "aws-reserved/sso.amazonaws.com/"
    } else if role.starts_with("AWSServiceRole") {
        "aws-service-role/config.amazonaws.com/"
    } else {
        ""
    };
    let mut s = format!(
        "{{\"type\":\"AssumedRole\",\"principalId\":\"{role_id}:{session}\",\"arn\":\"{}\",\"accountId\":\"{account}\",\"accessKeyId\":\"{key}\",\"sessionContext\":{{\"sessionIssuer\":{{\"type\":\"Role\",\"principalId\":\"{role_id}\",\"arn\":\"arn:aws:iam::{account}:role/{path}{role}\",\"accountId\":\"{account}\",\"userName\":\"{role}\"}},\"attributes\":{{\"creationDate\":\"{}\",\"mfaAuthenticated\":\"{}\"}}",
        session_arn(account, role, session),
        time_string(created),
        opts.mfa
    );
    if opts.ec2 {
        s.push_str(",\"ec2RoleDelivery\":\"2.0\"");
    }
    if let Some(id) = opts.source_identity {
        let _ = write!(s, ",\"sourceIdentity\":\"{id}\"");
    }
    s.push('}');
    if let Some(by) = opts.invoked_by {
        let _ = write!(s, ",\"invokedBy\":\"{by}\"");
    }
    s.push('}');
    s
}

/// An AWS service acting on its own.
pub(crate) fn service(invoked_by: &str) -> String {
    format!("{{\"type\":\"AWSService\",\"invokedBy\":\"{invoked_by}\"}}")
}

/// The account's root user.
pub(crate) fn root(account: &str, created: Option<i64>, mfa: bool) -> String {
    let mut s = format!(
        "{{\"type\":\"Root\",\"principalId\":\"{account}\",\"arn\":\"arn:aws:iam::{account}:root\",\"accountId\":\"{account}\""
    );
    if let Some(created) = created {
        let _ = write!(
            s,
            ",\"sessionContext\":{{\"attributes\":{{\"creationDate\":\"{}\",\"mfaAuthenticated\":\"{mfa}\"}}}}",
            time_string(created)
        );
    }
    s.push('}');
    s
}

/// A federated user session from `GetFederationToken`.
pub(crate) fn federated(
    account: &str,
    user: &str,
    principal_id: &str,
    name: &str,
    key: &str,
    created: i64,
) -> String {
    format!(
        "{{\"type\":\"FederatedUser\",\"principalId\":\"{account}:{name}\",\"arn\":\"arn:aws:sts::{account}:federated-user/{name}\",\"accountId\":\"{account}\",\"accessKeyId\":\"{key}\",\"sessionContext\":{{\"sessionIssuer\":{{\"type\":\"IAMUser\",\"principalId\":\"{principal_id}\",\"arn\":\"arn:aws:iam::{account}:user/{user}\",\"accountId\":\"{account}\",\"userName\":\"{user}\"}},\"attributes\":{{\"creationDate\":\"{}\",\"mfaAuthenticated\":\"false\"}}}}}}",
        time_string(created)
    )
}

/// A web identity (OIDC) user before assuming a role.
pub(crate) fn web_identity(account: &str, subject: &str) -> String {
    format!(
        "{{\"type\":\"WebIdentityUser\",\"principalId\":\"arn:aws:iam::{account}:oidc-provider/token.actions.example.com:sts.amazonaws.com:{subject}\",\"userName\":\"{subject}\",\"identityProvider\":\"arn:aws:iam::{account}:oidc-provider/token.actions.example.com\"}}"
    )
}

//! Attack scenarios injected into the background, each labelled event by event.

use rand::Rng;
use serde::Serialize;

use crate::benign::{CLI_UA, CONSOLE_UA, app_identity, s3_object, table_resources};
use crate::emit::Emitter;
use crate::geo::{self, Purpose};
use crate::ident::{self, SessionOpts};
use crate::org::{
    CANARY_ACCESS_KEY_ID, CANARY_USER, HONEYPOT_BUCKET, HONEYPOT_PREFIX, HONEYPOT_TABLE,
    OUTSIDE_ACCOUNT, Org, Runtime,
};
use crate::record::{ALNUM, Call, Category, LOWER_HEX, access_key, random_chars};

/// A scenario of the catalogue.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScenarioInfo {
    /// Name, as given to `--scenario`.
    pub name: &'static str,
    /// What the attacker does.
    pub description: &'static str,
    /// MITRE ATT&CK technique ids.
    pub attack: &'static [&'static str],
    /// Detector families expected to catch it (`builtin`, `sigma`, `canary`, `anomaly`…).
    pub detectors: &'static [&'static str],
}

macro_rules! s {
    ($name:literal, $desc:literal, [$($t:literal),*], [$($d:literal),*]) => {
        ScenarioInfo { name: $name, description: $desc, attack: &[$($t),*], detectors: &[$($d),*] }
    };
}

/// Every scenario the generator can inject.
pub const SCENARIOS: &[ScenarioInfo] = &[
    s!(
        "snapshot-exfil",
        "An EBS snapshot is created and shared with an outside account through createVolumePermission.",
        ["T1537"],
        ["builtin", "sigma"]
    ),
    s!(
        "ssrf-credential-theft",
        "EC2 instance-role credentials stolen through SSRF are used from a hosting provider to list and download a bucket.",
        ["T1552.005", "T1530", "T1078.004"],
        ["builtin", "anomaly", "policy"]
    ),
    s!(
        "insider-dynamodb",
        "An insider describes and dumps a DynamoDB table, exposes it with a resource policy, then deletes it and its backups.",
        ["T1530", "T1485", "T1098"],
        ["builtin", "anomaly"]
    ),
    s!(
        "canary-credential",
        "The planted canary access key is used.",
        ["T1078.004", "T1552.001"],
        ["canary"]
    ),
    s!(
        "honeypot-access",
        "The decoy DynamoDB table and S3 prefix are read.",
        ["T1530"],
        ["canary"]
    ),
    s!(
        "recon-burst",
        "Dozens of distinct List/Describe/Get calls across services in a few minutes.",
        ["T1580", "T1526", "T1087.004"],
        ["anomaly", "metric-filter"]
    ),
    s!(
        "cloudtrail-stopped",
        "The trail is stopped, then deleted.",
        ["T1562.008"],
        ["builtin", "sigma", "metric-filter"]
    ),
    s!(
        "failed-sensitive-calls",
        "Many AccessDenied errors on IAM, KMS, Secrets Manager and STS.",
        ["T1087.004", "T1552"],
        ["builtin", "metric-filter", "anomaly"]
    ),
    s!(
        "console-bruteforce",
        "Many failed console sign-ins, then a success.",
        ["T1110.001"],
        ["builtin", "metric-filter"]
    ),
    s!(
        "root-login",
        "The root user signs in to the console.",
        ["T1078.004"],
        ["builtin", "sigma", "metric-filter"]
    ),
    s!(
        "access-key-other-user",
        "A user creates an access key for another user.",
        ["T1098.001"],
        ["builtin", "sigma"]
    ),
    s!(
        "kms-key-deletion",
        "A KMS key is disabled and scheduled for deletion.",
        ["T1485"],
        ["builtin", "sigma", "metric-filter"]
    ),
    s!(
        "sg-open-world",
        "A security group is opened to 0.0.0.0/0 on port 22.",
        ["T1562.007"],
        ["builtin", "sigma", "metric-filter"]
    ),
    s!(
        "new-country-login",
        "A known user signs in to the console from a country never seen for them.",
        ["T1078.004"],
        ["anomaly"]
    ),
    s!(
        "backdoor-role",
        "A role trusting an outside account is created and given AdministratorAccess.",
        ["T1098.003", "T1136.003"],
        ["builtin", "sigma"]
    ),
    s!(
        "login-profile",
        "A console password is created for another user.",
        ["T1098"],
        ["builtin", "sigma"]
    ),
    s!(
        "federation-token",
        "GetFederationToken mints a federated session with broad permissions.",
        ["T1550.001"],
        ["builtin", "sigma"]
    ),
    s!(
        "lambda-backdoor",
        "A Lambda function is created or its code replaced, and made invocable by anyone.",
        ["T1648", "T1546"],
        ["builtin", "sigma"]
    ),
    s!(
        "ssm-command",
        "A burst of SSM SendCommand runs shell commands on instances.",
        ["T1651"],
        ["builtin", "sigma", "anomaly"]
    ),
    s!(
        "secrets-retrieval",
        "Stolen application role credentials, used from outside AWS, read many Secrets Manager secrets in minutes.",
        ["T1555.006"],
        ["builtin", "anomaly"]
    ),
    s!(
        "guardduty-disabled",
        "The GuardDuty detector is disabled and deleted.",
        ["T1562.001"],
        ["builtin", "sigma"]
    ),
    s!(
        "config-disabled",
        "The AWS Config recorder is stopped.",
        ["T1562.001"],
        ["builtin", "sigma", "metric-filter"]
    ),
    s!(
        "flowlogs-deleted",
        "VPC flow logs are deleted.",
        ["T1562.008"],
        ["builtin", "sigma"]
    ),
    s!(
        "leave-organization",
        "A member account leaves the organisation.",
        ["T1666"],
        ["builtin", "sigma"]
    ),
];

/// Looks a scenario up by name.
#[must_use]
pub fn scenario(name: &str) -> Option<&'static ScenarioInfo> {
    SCENARIOS.iter().find(|s| s.name == name)
}

/// A principal the attacker acts as, with its rendered identity.
struct Actor {
    identity: String,
    principal: String,
    ip: String,
    ua: &'static str,
}

/// Injection context: one scenario in one account at one time.
pub(crate) struct Ctx<'a> {
    pub(crate) em: &'a mut Emitter,
    pub(crate) org: &'a Org,
    pub(crate) a: usize,
    pub(crate) t: i64,
    pub(crate) name: &'static str,
}

fn attacker_ip(rng: &mut impl Rng) -> String {
    let hosting = geo::with_purpose(Purpose::Hosting);
    let n = hosting[rng.random_range(0..hosting.len())];
    geo::host(n, rng.random_range(0..62))
}

const ATTACK_UA: &str = "aws-cli/2.17.40 md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0-1014-kali md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe";
const PACU_UA: &str = "Boto3/1.34.162 md/Botocore#1.34.162 ua/2.0 os/linux#6.8.0 md/arch#x86_64 lang/python#3.12.3 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.162";

impl Ctx<'_> {
    fn acct(&self) -> &str {
        &self.org.accounts[self.a].id
    }

    fn region(&self) -> &'static str {
        self.org.accounts[self.a].regions[0]
    }

    /// An existing IAM user of the account (a person's when there is one), acting from a
    /// stolen position: a hosting provider's address and an attacker's CLI.
    fn stolen_user(&mut self) -> Actor {
        let account = &self.org.accounts[self.a];
        let user = account
            .users
            .iter()
            .find(|u| u.person.is_some())
            .or_else(|| account.users.iter().find(|u| u.name != CANARY_USER))
            .or(account.users.first());
        let ip = attacker_ip(&mut self.em.rng);
        match user {
            Some(u) => Actor {
                identity: ident::iam_user(&account.id, &u.name, &u.principal_id, &u.access_key),
                principal: format!("arn:aws:iam::{}:user/{}", account.id, u.name),
                ip,
                ua: ATTACK_UA,
            },
            None => self.sso_person(0, ip, ATTACK_UA),
        }
    }

    /// An application's instance-role credentials (an EC2 application's when there is one),
    /// taken from the instance and used from a hosting provider's address with Boto3.
    fn stolen_app_role(&mut self) -> Option<(crate::org::App, Actor)> {
        let account = &self.org.accounts[self.a];
        let app = account
            .apps
            .iter()
            .find(|a| a.runtime == Runtime::Ec2)
            .or(account.apps.first())?
            .clone();
        let hour = self.t - self.t.rem_euclid(3600);
        let session = app.sessions.first()?.clone();
        let actor = Actor {
            identity: app_identity(account, &app, &session, hour),
            principal: ident::session_arn(&account.id, &app.role.name, &session),
            ip: attacker_ip(&mut self.em.rng),
            ua: PACU_UA,
        };
        Some((app, actor))
    }

    /// A person's Identity Center session from `ip`.
    fn sso_person(&mut self, p: usize, ip: String, ua: &'static str) -> Actor {
        let account = &self.org.accounts[self.a];
        let person = &self.org.people[p % self.org.people.len()];
        let key = access_key(&mut self.em.rng, true);
        Actor {
            identity: ident::role_session(
                &account.id,
                &person.sso_role.name,
                &person.sso_role.id,
                &person.email,
                &key,
                self.t - 600,
                SessionOpts::default(),
            ),
            principal: ident::session_arn(&account.id, &person.sso_role.name, &person.email),
            ip,
            ua,
        }
    }

    /// An insider: a person working from their usual address with their usual tool.
    fn insider(&mut self) -> Actor {
        let p = self.em.rng.random_range(0..self.org.people.len());
        let ip = self.org.people[p].ips[1].clone();
        self.sso_person(p, ip, CLI_UA)
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &mut self,
        actor: &Actor,
        source: &str,
        name: &str,
        request: &str,
        response: &str,
        error: Option<(&str, &str)>,
        step: i64,
    ) -> String {
        self.t += step;
        let region = self.region();
        let acct = self.org.accounts[self.a].id.clone();
        let call = Call {
            ip: &actor.ip,
            user_agent: actor.ua,
            request,
            response,
            error,
            ..Call::new(self.t, &actor.identity, source, name, region, &acct)
        };
        self.em
            .emit_labelled(&call, region, self.name, &actor.principal)
    }

    /// What an attacker does first with credentials: `GetCallerIdentity`, then `ListBuckets`
    /// `step` seconds later (failing with `error` when given).
    fn probe(&mut self, actor: &Actor, error: Option<(&str, &str)>, step: i64) {
        self.call(
            actor,
            "sts.amazonaws.com",
            "GetCallerIdentity",
            "",
            "",
            None,
            0,
        );
        self.call(
            actor,
            "s3.amazonaws.com",
            "ListBuckets",
            r#"{"Host":"s3.amazonaws.com"}"#,
            "",
            error,
            step,
        );
    }

    /// A labelled, read-only data event (S3 object or DynamoDB item level) at the current
    /// time, in the account's primary region.
    fn data_read(&mut self, actor: &Actor, source: &str, name: &str, parts: &DataParts) -> String {
        let region = self.region();
        let acct = self.org.accounts[self.a].id.clone();
        let call = Call {
            ip: &actor.ip,
            user_agent: actor.ua,
            request: &parts.request,
            additional: &parts.additional,
            resources: &parts.resources,
            category: Category::Data,
            read_only: true,
            ..Call::new(self.t, &actor.identity, source, name, region, &acct)
        };
        self.em
            .emit_labelled(&call, region, self.name, &actor.principal)
    }
}

/// Request parameters, additional event data and resources of a data event.
struct DataParts {
    request: String,
    additional: String,
    resources: String,
}

impl DataParts {
    /// A DynamoDB item-level call on `table` with `request`.
    fn table(request: String, acct: &str, region: &str, table: &str) -> Self {
        DataParts {
            request,
            additional: String::new(),
            resources: table_resources(acct, region, table),
        }
    }

    /// From the `(request, additional, resources)` triple of [`s3_object`].
    fn s3((request, additional, resources): (String, String, String)) -> Self {
        DataParts {
            request,
            additional,
            resources,
        }
    }
}

/// Injects scenario `name`; false when the name is unknown.
pub(crate) fn inject(cx: &mut Ctx<'_>) -> bool {
    match cx.name {
        "snapshot-exfil" => snapshot_exfil(cx),
        "ssrf-credential-theft" => ssrf(cx),
        "insider-dynamodb" => insider_dynamodb(cx),
        "canary-credential" => canary(cx),
        "honeypot-access" => honeypot(cx),
        "recon-burst" => recon(cx),
        "cloudtrail-stopped" => cloudtrail_stopped(cx),
        "failed-sensitive-calls" => failed_sensitive(cx),
        "console-bruteforce" => bruteforce(cx),
        "root-login" => root_login(cx),
        "access-key-other-user" => access_key_other(cx),
        "kms-key-deletion" => kms_deletion(cx),
        "sg-open-world" => sg_open(cx),
        "new-country-login" => new_country(cx),
        "backdoor-role" => backdoor_role(cx),
        "login-profile" => login_profile(cx),
        "federation-token" => federation_token(cx),
        "lambda-backdoor" => lambda_backdoor(cx),
        "ssm-command" => ssm_command(cx),
        "secrets-retrieval" => secrets_retrieval(cx),
        "guardduty-disabled" => guardduty(cx),
        "config-disabled" => config_disabled(cx),
        "flowlogs-deleted" => flowlogs(cx),
        "leave-organization" => leave_org(cx),
        _ => return false,
    }
    true
}

fn snapshot_exfil(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let vol = format!("vol-0{}", random_chars(&mut cx.em.rng, LOWER_HEX, 16));
    let snap = format!("snap-0{}", random_chars(&mut cx.em.rng, LOWER_HEX, 16));
    cx.call(
        &actor,
        "ec2.amazonaws.com",
        "DescribeVolumes",
        r#"{"volumeSet":{},"filterSet":{}}"#,
        "",
        None,
        0,
    );
    let req = format!("{{\"volumeId\":\"{vol}\",\"description\":\"backup\"}}");
    let resp = format!(
        "{{\"requestId\":\"{}\",\"snapshotId\":\"{snap}\",\"volumeId\":\"{vol}\",\"status\":\"pending\",\"volumeSize\":100,\"encrypted\":false}}",
        crate::record::uuid(&mut cx.em.rng)
    );
    cx.call(
        &actor,
        "ec2.amazonaws.com",
        "CreateSnapshot",
        &req,
        &resp,
        None,
        20,
    );
    let req = format!(
        "{{\"snapshotId\":\"{snap}\",\"createVolumePermission\":{{\"add\":{{\"items\":[{{\"userId\":\"{OUTSIDE_ACCOUNT}\"}}]}}}},\"attributeType\":\"CREATE_VOLUME_PERMISSION\"}}"
    );
    cx.call(
        &actor,
        "ec2.amazonaws.com",
        "ModifySnapshotAttribute",
        &req,
        "{\"_return\":true}",
        None,
        300,
    );
}

fn ssrf(cx: &mut Ctx<'_>) {
    let Some((app, actor)) = cx.stolen_app_role() else {
        return;
    };
    cx.probe(&actor, None, 4);
    let acct = cx.acct().to_owned();
    let region = cx.region();
    for i in 0..40 {
        cx.t += cx.em.rng.random_range(1..4);
        let (name, parts) = if i % 8 == 0 {
            let request = format!(
                "{{\"list-type\":\"2\",\"bucketName\":\"{}\",\"Host\":\"{}.s3.{region}.amazonaws.com\",\"prefix\":\"\",\"continuation-token\":\"\"}}",
                app.bucket, app.bucket
            );
            let resources = format!(
                "[{{\"accountId\":\"{acct}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{}\"}}]",
                app.bucket
            );
            let parts = DataParts {
                request,
                additional: String::new(),
                resources,
            };
            ("ListObjects", parts)
        } else {
            let key = format!("data/export/part-{i:05}.json");
            let size = cx.em.rng.random_range(50_000..5_000_000);
            let object = s3_object(&app.bucket, &key, region, &acct, size, 0, &mut cx.em.rng);
            ("GetObject", DataParts::s3(object))
        };
        cx.data_read(&actor, "s3.amazonaws.com", name, &parts);
    }
}

fn insider_dynamodb(cx: &mut Ctx<'_>) {
    let actor = cx.insider();
    let account = &cx.org.accounts[cx.a];
    let Some(app) = account.apps.last().cloned() else {
        return;
    };
    let acct = account.id.clone();
    let region = cx.region();
    let table = app.table.clone();
    let tarn = format!("arn:aws:dynamodb:{region}:{acct}:table/{table}");
    cx.call(
        &actor,
        "dynamodb.amazonaws.com",
        "DescribeTable",
        &format!("{{\"tableName\":\"{table}\"}}"),
        "",
        None,
        0,
    );
    for _ in 0..12 {
        cx.t += 3;
        let req = format!(
            "{{\"tableName\":\"{table}\",\"limit\":1000,\"exclusiveStartKey\":{{\"pk\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}}}}"
        );
        let parts = DataParts::table(req, &acct, region, &table);
        cx.data_read(&actor, "dynamodb.amazonaws.com", "Scan", &parts);
    }
    let req = format!(
        "{{\"tableArn\":\"{tarn}\",\"s3Bucket\":\"exfil-{}\",\"exportFormat\":\"DYNAMODB_JSON\"}}",
        random_chars(&mut cx.em.rng, LOWER_HEX, 8)
    );
    cx.call(
        &actor,
        "dynamodb.amazonaws.com",
        "ExportTableToPointInTime",
        &req,
        "",
        None,
        60,
    );
    let req = format!(
        "{{\"resourceArn\":\"{tarn}\",\"policy\":\"{{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{{\\\"AWS\\\":\\\"arn:aws:iam::{OUTSIDE_ACCOUNT}:root\\\"}},\\\"Action\\\":\\\"dynamodb:*\\\",\\\"Resource\\\":\\\"{tarn}\\\"}}]}}\"}}"
    );
    cx.call(
        &actor,
        "dynamodb.amazonaws.com",
        "PutResourcePolicy",
        &req,
        "",
        None,
        120,
    );
    let backup = format!(
        "{tarn}/backup/01{}",
        random_chars(&mut cx.em.rng, b"0123456789", 15)
    );
    cx.call(
        &actor,
        "dynamodb.amazonaws.com",
        "DeleteBackup",
        &format!("{{\"backupArn\":\"{backup}\"}}"),
        "",
        None,
        600,
    );
    cx.call(
        &actor,
        "dynamodb.amazonaws.com",
        "DeleteTable",
        &format!("{{\"tableName\":\"{table}\"}}"),
        "",
        None,
        30,
    );
}

fn canary(cx: &mut Ctx<'_>) {
    let account = &cx.org.accounts[cx.a];
    let pid = account
        .users
        .iter()
        .find(|u| u.name == CANARY_USER)
        .map_or_else(
            || "AIDA5CANARYBACKUP0123".to_owned(),
            |u| u.principal_id.clone(),
        );
    let actor = Actor {
        identity: ident::iam_user(&account.id, CANARY_USER, &pid, CANARY_ACCESS_KEY_ID),
        principal: format!("arn:aws:iam::{}:user/{CANARY_USER}", account.id),
        ip: attacker_ip(&mut cx.em.rng),
        ua: ATTACK_UA,
    };
    cx.probe(&actor, Some(("AccessDenied", "Access Denied")), 6);
    cx.call(
        &actor,
        "iam.amazonaws.com",
        "ListAttachedUserPolicies",
        &format!("{{\"userName\":\"{CANARY_USER}\"}}"),
        "",
        Some((
            "AccessDenied",
            "User is not authorized to perform: iam:ListAttachedUserPolicies",
        )),
        5,
    );
}

fn honeypot(cx: &mut Ctx<'_>) {
    let actor = cx.insider();
    let acct = cx.acct().to_owned();
    let region = cx.region();
    for name in ["GetItem", "Scan"] {
        cx.t += 8;
        let req = format!("{{\"tableName\":\"{HONEYPOT_TABLE}\",\"limit\":100}}");
        let parts = DataParts::table(req, &acct, region, HONEYPOT_TABLE);
        cx.data_read(&actor, "dynamodb.amazonaws.com", name, &parts);
    }
    cx.t += 30;
    let key = format!("{HONEYPOT_PREFIX}2025/payroll-export-q4.csv");
    let object = s3_object(
        HONEYPOT_BUCKET,
        &key,
        region,
        &acct,
        48_213,
        0,
        &mut cx.em.rng,
    );
    cx.data_read(
        &actor,
        "s3.amazonaws.com",
        "GetObject",
        &DataParts::s3(object),
    );
}

const RECON: &[(&str, &str)] = &[
    ("iam.amazonaws.com", "ListUsers"),
    ("iam.amazonaws.com", "ListRoles"),
    ("iam.amazonaws.com", "ListGroups"),
    ("iam.amazonaws.com", "ListPolicies"),
    ("iam.amazonaws.com", "GetAccountAuthorizationDetails"),
    ("iam.amazonaws.com", "ListAccessKeys"),
    ("iam.amazonaws.com", "GetAccountSummary"),
    ("iam.amazonaws.com", "ListInstanceProfiles"),
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("ec2.amazonaws.com", "DescribeSecurityGroups"),
    ("ec2.amazonaws.com", "DescribeVpcs"),
    ("ec2.amazonaws.com", "DescribeSnapshots"),
    ("ec2.amazonaws.com", "DescribeImages"),
    ("ec2.amazonaws.com", "DescribeKeyPairs"),
    ("ec2.amazonaws.com", "DescribeRegions"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("s3.amazonaws.com", "GetBucketPolicy"),
    ("s3.amazonaws.com", "GetBucketAcl"),
    ("lambda.amazonaws.com", "ListFunctions20150331"),
    ("lambda.amazonaws.com", "ListLayers20181031"),
    ("rds.amazonaws.com", "DescribeDBInstances"),
    ("rds.amazonaws.com", "DescribeDBSnapshots"),
    ("dynamodb.amazonaws.com", "ListTables"),
    ("secretsmanager.amazonaws.com", "ListSecrets"),
    ("ssm.amazonaws.com", "DescribeParameters"),
    ("ssm.amazonaws.com", "DescribeInstanceInformation"),
    ("kms.amazonaws.com", "ListKeys"),
    ("kms.amazonaws.com", "ListAliases"),
    ("cloudtrail.amazonaws.com", "DescribeTrails"),
    ("cloudtrail.amazonaws.com", "GetTrailStatus"),
    ("guardduty.amazonaws.com", "ListDetectors"),
    ("config.amazonaws.com", "DescribeConfigurationRecorders"),
    ("organizations.amazonaws.com", "DescribeOrganization"),
    ("organizations.amazonaws.com", "ListAccounts"),
    ("sns.amazonaws.com", "ListTopics"),
    ("sqs.amazonaws.com", "ListQueues"),
    ("ecr.amazonaws.com", "DescribeRepositories"),
    ("eks.amazonaws.com", "ListClusters"),
    ("ecs.amazonaws.com", "ListClusters"),
    ("logs.amazonaws.com", "DescribeLogGroups"),
    ("route53.amazonaws.com", "ListHostedZones"),
    ("cloudformation.amazonaws.com", "ListStacks"),
];

fn recon(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    cx.call(
        &actor,
        "sts.amazonaws.com",
        "GetCallerIdentity",
        "",
        "",
        None,
        0,
    );
    for (source, name) in RECON {
        let denied = cx.em.rng.random_ratio(1, 6);
        let step = cx.em.rng.random_range(1..6);
        cx.call(
            &actor,
            source,
            name,
            "",
            "",
            denied.then_some((
                "AccessDenied",
                "User is not authorized to perform this operation",
            )),
            step,
        );
    }
}

fn cloudtrail_stopped(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let acct = cx.acct().to_owned();
    let region = cx.region();
    let trail = format!(
        "arn:aws:cloudtrail:{region}:{acct}:trail/{}",
        cx.org.accounts[cx.a].trail
    );
    cx.call(
        &actor,
        "cloudtrail.amazonaws.com",
        "DescribeTrails",
        "null",
        "",
        None,
        0,
    );
    cx.call(
        &actor,
        "cloudtrail.amazonaws.com",
        "StopLogging",
        &format!("{{\"name\":\"{trail}\"}}"),
        "",
        None,
        15,
    );
    cx.call(
        &actor,
        "cloudtrail.amazonaws.com",
        "DeleteTrail",
        &format!("{{\"name\":\"{trail}\"}}"),
        "",
        None,
        40,
    );
}

fn failed_sensitive(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let calls = [
        ("iam.amazonaws.com", "ListUsers"),
        ("iam.amazonaws.com", "CreateUser"),
        ("iam.amazonaws.com", "AttachUserPolicy"),
        ("iam.amazonaws.com", "ListAccessKeys"),
        ("kms.amazonaws.com", "ListKeys"),
        ("kms.amazonaws.com", "Decrypt"),
        ("kms.amazonaws.com", "CreateGrant"),
        ("secretsmanager.amazonaws.com", "ListSecrets"),
        ("secretsmanager.amazonaws.com", "GetSecretValue"),
        ("sts.amazonaws.com", "AssumeRole"),
        ("sts.amazonaws.com", "GetSessionToken"),
    ];
    for i in 0..24 {
        let (source, name) = calls[i % calls.len()];
        let step = cx.em.rng.random_range(2..12);
        cx.call(&actor, source, name, "", "", Some(("AccessDenied", "User is not authorized to perform this operation because no identity-based policy allows the action")), step);
    }
}

fn console_login(
    cx: &mut Ctx<'_>,
    actor: &Actor,
    ok: bool,
    mfa: bool,
    step: i64,
    user: &str,
) -> String {
    cx.t += step;
    let acct = cx.acct().to_owned();
    let add = format!(
        "{{\"LoginTo\":\"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true\",\"MobileVersion\":\"No\",\"MFAIdentifier\":\"arn:aws:iam::{acct}:mfa/{user}\",\"MFAUsed\":\"{}\"}}",
        if mfa { "Yes" } else { "No" }
    );
    let resp = if ok {
        "{\"ConsoleLogin\":\"Success\"}"
    } else {
        "{\"ConsoleLogin\":\"Failure\"}"
    };
    let call = Call {
        ip: &actor.ip,
        user_agent: actor.ua,
        response: resp,
        additional: &add,
        category: Category::SignIn,
        read_only: false,
        host: "signin.aws.amazon.com",
        error: (!ok).then_some(("Failed authentication", "Failed authentication")),
        ..Call::new(
            cx.t,
            &actor.identity,
            "signin.amazonaws.com",
            "ConsoleLogin",
            "us-east-1",
            &acct,
        )
    };
    cx.em
        .emit_labelled(&call, "us-east-1", cx.name, &actor.principal)
}

fn bruteforce(cx: &mut Ctx<'_>) {
    let mut actor = cx.stolen_user();
    let account = &cx.org.accounts[cx.a];
    let user = account
        .users
        .iter()
        .find(|u| u.person.is_some())
        .or(account.users.first())
        .cloned();
    let Some(user) = user else { return };
    actor.identity = ident::iam_user(&account.id, &user.name, &user.principal_id, "");
    actor.ua = CONSOLE_UA;
    for _ in 0..25 {
        let step = cx.em.rng.random_range(2..9);
        console_login(cx, &actor, false, false, step, &user.name);
    }
    console_login(cx, &actor, true, false, 5, &user.name);
}

fn root_login(cx: &mut Ctx<'_>) {
    let acct = cx.acct().to_owned();
    let actor = Actor {
        identity: ident::root(&acct, None, false),
        principal: format!("arn:aws:iam::{acct}:root"),
        ip: attacker_ip(&mut cx.em.rng),
        ua: CONSOLE_UA,
    };
    console_login(cx, &actor, true, false, 0, "root-account-mfa-device");
    let actor = Actor {
        identity: ident::root(&acct, Some(cx.t), false),
        ..actor
    };
    cx.call(
        &actor,
        "iam.amazonaws.com",
        "GetAccountSummary",
        "",
        "",
        None,
        20,
    );
    cx.call(&actor, "iam.amazonaws.com", "ListUsers", "", "", None, 10);
}

fn other_user(cx: &Ctx<'_>, actor_principal: &str) -> String {
    cx.org.accounts[cx.a]
        .users
        .iter()
        .map(|u| u.name.clone())
        .find(|n| !actor_principal.ends_with(&format!("/{n}")) && n != CANARY_USER)
        .unwrap_or_else(|| "svc-reporting".to_owned())
}

fn access_key_other(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let target = other_user(cx, &actor.principal);
    let key = access_key(&mut cx.em.rng, false);
    let resp = format!(
        "{{\"accessKey\":{{\"userName\":\"{target}\",\"accessKeyId\":\"{key}\",\"status\":\"Active\",\"createDate\":\"Jan 1, 2026, 12:00:00 PM\"}}}}"
    );
    cx.call(
        &actor,
        "iam.amazonaws.com",
        "CreateAccessKey",
        &format!("{{\"userName\":\"{target}\"}}"),
        &resp,
        None,
        0,
    );
}

fn kms_deletion(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let acct = cx.acct().to_owned();
    let region = cx.region();
    let key = cx.org.accounts[cx.a]
        .kms_keys
        .first()
        .cloned()
        .unwrap_or_default();
    let arn = format!("arn:aws:kms:{region}:{acct}:key/{key}");
    cx.call(
        &actor,
        "kms.amazonaws.com",
        "DisableKey",
        &format!("{{\"keyId\":\"{key}\"}}"),
        "",
        None,
        0,
    );
    let resp = format!(
        "{{\"keyId\":\"{arn}\",\"deletionDate\":\"Jan 8, 2026, 12:00:00 AM\",\"keyState\":\"PendingDeletion\",\"pendingWindowInDays\":7}}"
    );
    cx.call(
        &actor,
        "kms.amazonaws.com",
        "ScheduleKeyDeletion",
        &format!("{{\"keyId\":\"{key}\",\"pendingWindowInDays\":7}}"),
        &resp,
        None,
        30,
    );
}

fn sg_open(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let sg = format!("sg-0{}", random_chars(&mut cx.em.rng, LOWER_HEX, 16));
    let req = format!(
        "{{\"groupId\":\"{sg}\",\"ipPermissions\":{{\"items\":[{{\"ipProtocol\":\"tcp\",\"fromPort\":22,\"toPort\":22,\"groups\":{{}},\"ipRanges\":{{\"items\":[{{\"cidrIp\":\"0.0.0.0/0\"}}]}},\"ipv6Ranges\":{{}},\"prefixListIds\":{{}}}}]}}}}"
    );
    let resp = format!(
        "{{\"requestId\":\"{}\",\"_return\":true,\"securityGroupRuleSet\":{{\"items\":[{{\"groupOwnerId\":\"{}\",\"groupId\":\"{sg}\",\"securityGroupRuleId\":\"sgr-0{}\",\"isEgress\":false,\"ipProtocol\":\"tcp\",\"fromPort\":22,\"toPort\":22,\"cidrIpv4\":\"0.0.0.0/0\"}}]}}}}",
        crate::record::uuid(&mut cx.em.rng),
        cx.org.accounts[cx.a].id,
        random_chars(&mut cx.em.rng, LOWER_HEX, 16)
    );
    cx.call(
        &actor,
        "ec2.amazonaws.com",
        "AuthorizeSecurityGroupIngress",
        &req,
        &resp,
        None,
        0,
    );
}

fn new_country(cx: &mut Ctx<'_>) {
    let foreign = geo::with_purpose(Purpose::Foreign);
    let ip = geo::host(
        foreign.first().copied().unwrap_or(10),
        cx.em.rng.random_range(0..62),
    );
    let account = &cx.org.accounts[cx.a];
    let user = account.users.iter().find(|u| u.person.is_some()).cloned();
    if let Some(user) = user {
        let actor = Actor {
            identity: ident::iam_user(&account.id, &user.name, &user.principal_id, ""),
            principal: format!("arn:aws:iam::{}:user/{}", account.id, user.name),
            ip,
            ua: CONSOLE_UA,
        };
        let mfa = user.person.is_some_and(|p| cx.org.people[p].mfa);
        console_login(cx, &actor, true, mfa, 0, &user.name);
        let console = Actor {
            identity: ident::iam_user_console(
                &account.id,
                &user.name,
                &user.principal_id,
                &access_key(&mut cx.em.rng, true),
                cx.t,
                mfa,
            ),
            ..actor
        };
        cx.call(
            &console,
            "ec2.amazonaws.com",
            "DescribeInstances",
            r#"{"instancesSet":{},"filterSet":{}}"#,
            "",
            None,
            30,
        );
        cx.call(
            &console,
            "s3.amazonaws.com",
            "ListBuckets",
            r#"{"Host":"s3.amazonaws.com"}"#,
            "",
            None,
            20,
        );
    } else {
        let actor = cx.sso_person(1, ip, CONSOLE_UA);
        let acct = cx.acct().to_owned();
        console_login(cx, &actor, true, false, 0, &acct);
        cx.call(
            &actor,
            "ec2.amazonaws.com",
            "DescribeInstances",
            r#"{"instancesSet":{},"filterSet":{}}"#,
            "",
            None,
            30,
        );
    }
}

fn backdoor_role(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let acct = cx.acct().to_owned();
    let name = "OrganizationAccountSupportRole";
    let policy = format!(
        "{{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{{\\\"Effect\\\":\\\"Allow\\\",\\\"Principal\\\":{{\\\"AWS\\\":\\\"arn:aws:iam::{OUTSIDE_ACCOUNT}:root\\\"}},\\\"Action\\\":\\\"sts:AssumeRole\\\"}}]}}"
    );
    let rid = crate::record::unique_id(&mut cx.em.rng, "AROA");
    let req = format!("{{\"roleName\":\"{name}\",\"assumeRolePolicyDocument\":\"{policy}\"}}");
    let resp = format!(
        "{{\"role\":{{\"path\":\"/\",\"roleName\":\"{name}\",\"roleId\":\"{rid}\",\"arn\":\"arn:aws:iam::{acct}:role/{name}\",\"createDate\":\"Jan 1, 2026, 12:00:00 PM\",\"assumeRolePolicyDocument\":\"{policy}\"}}}}"
    );
    cx.call(
        &actor,
        "iam.amazonaws.com",
        "CreateRole",
        &req,
        &resp,
        None,
        0,
    );
    cx.call(&actor, "iam.amazonaws.com", "AttachRolePolicy", &format!("{{\"roleName\":\"{name}\",\"policyArn\":\"arn:aws:iam::aws:policy/AdministratorAccess\"}}"), "", None, 12);
}

fn login_profile(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let target = other_user(cx, &actor.principal);
    let resp = format!(
        "{{\"loginProfile\":{{\"userName\":\"{target}\",\"createDate\":\"Jan 1, 2026, 12:00:00 PM\",\"passwordResetRequired\":false}}}}"
    );
    cx.call(
        &actor,
        "iam.amazonaws.com",
        "CreateLoginProfile",
        &format!("{{\"userName\":\"{target}\",\"passwordResetRequired\":false}}"),
        &resp,
        None,
        0,
    );
}

fn federation_token(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let acct = cx.acct().to_owned();
    let key = access_key(&mut cx.em.rng, true);
    let policy = "{\\\"Version\\\":\\\"2012-10-17\\\",\\\"Statement\\\":[{\\\"Effect\\\":\\\"Allow\\\",\\\"Action\\\":\\\"*\\\",\\\"Resource\\\":\\\"*\\\"}]}";
    let req =
        format!("{{\"name\":\"support\",\"durationSeconds\":129600,\"policy\":\"{policy}\"}}");
    let resp = format!(
        "{{\"credentials\":{{\"accessKeyId\":\"{key}\",\"sessionToken\":\"IQoJb3JpZ2luX2Vj{}\",\"expiration\":\"Jan 3, 2026, 12:00:00 AM\"}},\"federatedUser\":{{\"federatedUserId\":\"{acct}:support\",\"arn\":\"arn:aws:sts::{acct}:federated-user/support\"}},\"packedPolicySize\":9}}",
        random_chars(&mut cx.em.rng, ALNUM, 100)
    );
    cx.call(
        &actor,
        "sts.amazonaws.com",
        "GetFederationToken",
        &req,
        &resp,
        None,
        0,
    );
    let user = actor
        .principal
        .rsplit('/')
        .next()
        .unwrap_or("user")
        .to_owned();
    let fed = Actor {
        identity: ident::federated(&acct, &user, "AIDAFEDERATED000001", "support", &key, cx.t),
        principal: format!("arn:aws:sts::{acct}:federated-user/support"),
        ip: actor.ip.clone(),
        ua: actor.ua,
    };
    cx.call(
        &fed,
        "s3.amazonaws.com",
        "ListBuckets",
        r#"{"Host":"s3.amazonaws.com"}"#,
        "",
        None,
        40,
    );
}

fn lambda_backdoor(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let acct = cx.acct().to_owned();
    let region = cx.region();
    let f = "log-forwarder-helper";
    let req = format!(
        "{{\"functionName\":\"{f}\",\"runtime\":\"python3.12\",\"role\":\"arn:aws:iam::{acct}:role/billing-worker-lambda-exec\",\"handler\":\"index.handler\",\"code\":{{}},\"timeout\":60,\"publish\":true}}"
    );
    let resp = format!(
        "{{\"functionName\":\"{f}\",\"functionArn\":\"arn:aws:lambda:{region}:{acct}:function:{f}\",\"runtime\":\"python3.12\",\"state\":\"Pending\"}}"
    );
    cx.call(
        &actor,
        "lambda.amazonaws.com",
        "CreateFunction20150331",
        &req,
        &resp,
        None,
        0,
    );
    cx.call(
        &actor,
        "lambda.amazonaws.com",
        "UpdateFunctionCode20150331v2",
        r#"{"functionName":"billing-worker","publish":true}"#,
        "",
        None,
        60,
    );
    let req = format!(
        "{{\"functionName\":\"{f}\",\"statementId\":\"public-invoke\",\"action\":\"lambda:InvokeFunction\",\"principal\":\"*\"}}"
    );
    cx.call(
        &actor,
        "lambda.amazonaws.com",
        "AddPermission20150331v2",
        &req,
        "",
        None,
        20,
    );
}

fn ssm_command(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    for _ in 0..12 {
        let id = format!("i-0{}", random_chars(&mut cx.em.rng, LOWER_HEX, 16));
        let req = format!(
            "{{\"instanceIds\":[\"{id}\"],\"documentName\":\"AWS-RunShellScript\",\"parameters\":\"HIDDEN_DUE_TO_SECURITY_REASONS\",\"interactive\":false}}"
        );
        let resp = format!(
            "{{\"command\":{{\"commandId\":\"{}\",\"documentName\":\"AWS-RunShellScript\",\"instanceIds\":[\"{id}\"],\"status\":\"Pending\"}}}}",
            crate::record::uuid(&mut cx.em.rng)
        );
        let step = cx.em.rng.random_range(3..15);
        cx.call(
            &actor,
            "ssm.amazonaws.com",
            "SendCommand",
            &req,
            &resp,
            None,
            step,
        );
    }
}

fn secrets_retrieval(cx: &mut Ctx<'_>) {
    let Some((_, actor)) = cx.stolen_app_role() else {
        return;
    };
    let acct = cx.acct().to_owned();
    let region = cx.region();
    cx.call(
        &actor,
        "secretsmanager.amazonaws.com",
        "ListSecrets",
        "",
        "",
        None,
        0,
    );
    let apps: Vec<String> = cx.org.accounts[cx.a]
        .apps
        .iter()
        .map(|a| a.secret.clone())
        .collect();
    for i in 0..20 {
        let name = apps
            .get(i % apps.len().max(1))
            .map_or_else(|| format!("prod/db-{i}"), |s| format!("{s}-{i}"));
        let step = cx.em.rng.random_range(1..5);
        cx.call(
            &actor,
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            &format!("{{\"secretId\":\"arn:aws:secretsmanager:{region}:{acct}:secret:{name}\"}}"),
            "",
            None,
            step,
        );
    }
}

fn guardduty(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let det = cx.org.accounts[cx.a].detector_id.clone();
    cx.call(
        &actor,
        "guardduty.amazonaws.com",
        "ListDetectors",
        "",
        "",
        None,
        0,
    );
    cx.call(
        &actor,
        "guardduty.amazonaws.com",
        "UpdateDetector",
        &format!("{{\"detectorId\":\"{det}\",\"enable\":false}}"),
        "",
        None,
        10,
    );
    cx.call(
        &actor,
        "guardduty.amazonaws.com",
        "DeleteDetector",
        &format!("{{\"detectorId\":\"{det}\"}}"),
        "",
        None,
        30,
    );
}

fn config_disabled(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    cx.call(
        &actor,
        "config.amazonaws.com",
        "StopConfigurationRecorder",
        r#"{"configurationRecorderName":"default"}"#,
        "",
        None,
        0,
    );
}

fn flowlogs(cx: &mut Ctx<'_>) {
    let actor = cx.stolen_user();
    let fl = format!("fl-0{}", random_chars(&mut cx.em.rng, LOWER_HEX, 16));
    let req = format!(
        "{{\"DeleteFlowLogsRequest\":{{\"FlowLogId\":{{\"tag\":1,\"content\":\"{fl}\"}}}}}}"
    );
    cx.call(
        &actor,
        "ec2.amazonaws.com",
        "DescribeFlowLogs",
        "{\"DescribeFlowLogsRequest\":\"\"}",
        "",
        None,
        0,
    );
    cx.call(
        &actor,
        "ec2.amazonaws.com",
        "DeleteFlowLogs",
        &req,
        "{\"DeleteFlowLogsResponse\":{\"unsuccessful\":\"\"}}",
        None,
        20,
    );
}

fn leave_org(cx: &mut Ctx<'_>) {
    let acct = cx.acct().to_owned();
    let actor = Actor {
        identity: ident::root(&acct, Some(cx.t - 300), false),
        principal: format!("arn:aws:iam::{acct}:root"),
        ip: attacker_ip(&mut cx.em.rng),
        ua: CONSOLE_UA,
    };
    cx.call(
        &actor,
        "organizations.amazonaws.com",
        "LeaveOrganization",
        "",
        "",
        None,
        0,
    );
}

//! Benign background activity of one account-day.

use std::fmt::Write as _;

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::emit::Emitter;
use crate::geo::{self, Purpose};
use crate::ident::{self, SessionOpts};
use crate::org::{Account, App, Org, Runtime};
use crate::record::{Call, Category, LOWER_HEX, access_key, random_chars, time_string};

/// The console's user agent.
pub(crate) const CONSOLE_UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
/// The AWS CLI's user agent.
pub(crate) const CLI_UA: &str = "aws-cli/2.22.4 md/awscrt#0.23.4 ua/2.0 os/macos#24.1.0 md/arch#arm64 lang/python#3.12.7 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off";
const TERRAFORM_UA: &str = "APN/1.0 HashiCorp/1.0 Terraform/1.9.8 (+https://www.terraform.io) terraform-provider-aws/5.80.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.194.0";
const SDK_JAVA_UA: &str = "aws-sdk-java/2.29.20 Linux/5.10.228-219.884.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.13+11-LTS Java/17.0.13 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard";
const SDK_PY_UA: &str = "Boto3/1.35.76 md/Botocore#1.35.76 ua/2.0 os/linux#5.10.228-240.884.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.8 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.35.76";
const SDK_GO_UA: &str = "aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/s3#1.71.0";

/// Read-mostly calls people and pipelines make: (source, name, request).
const BROWSE: &[(&str, &str, &str)] = &[
    (
        "ec2.amazonaws.com",
        "DescribeInstances",
        r#"{"instancesSet":{},"filterSet":{}}"#,
    ),
    (
        "ec2.amazonaws.com",
        "DescribeSecurityGroups",
        r#"{"securityGroupSet":{},"securityGroupIdSet":{},"filterSet":{}}"#,
    ),
    (
        "ec2.amazonaws.com",
        "DescribeVpcs",
        r#"{"vpcSet":{},"filterSet":{}}"#,
    ),
    (
        "ec2.amazonaws.com",
        "DescribeSubnets",
        r#"{"subnetSet":{},"filterSet":{}}"#,
    ),
    (
        "ec2.amazonaws.com",
        "DescribeVolumes",
        r#"{"volumeSet":{},"filterSet":{},"maxResults":500}"#,
    ),
    (
        "s3.amazonaws.com",
        "ListBuckets",
        r#"{"Host":"s3.amazonaws.com"}"#,
    ),
    (
        "s3.amazonaws.com",
        "GetBucketLocation",
        r#"{"location":"","Host":"s3.amazonaws.com"}"#,
    ),
    (
        "lambda.amazonaws.com",
        "ListFunctions20150331",
        r#"{"functionVersion":"ALL"}"#,
    ),
    (
        "lambda.amazonaws.com",
        "GetFunction20150331v2",
        r#"{"functionName":"billing-worker"}"#,
    ),
    ("iam.amazonaws.com", "ListRoles", r#"{"maxItems":100}"#),
    (
        "iam.amazonaws.com",
        "GetRole",
        r#"{"roleName":"orders-api-task-role"}"#,
    ),
    (
        "iam.amazonaws.com",
        "ListAttachedRolePolicies",
        r#"{"roleName":"orders-api-task-role"}"#,
    ),
    (
        "cloudwatch.amazonaws.com",
        "DescribeAlarms",
        r#"{"maxRecords":100}"#,
    ),
    (
        "monitoring.amazonaws.com",
        "GetMetricData",
        r#"{"startTime":"now-3h","endTime":"now"}"#,
    ),
    ("logs.amazonaws.com", "DescribeLogGroups", r#"{"limit":50}"#),
    (
        "logs.amazonaws.com",
        "FilterLogEvents",
        r#"{"logGroupName":"/aws/lambda/billing-worker","interleaved":true}"#,
    ),
    ("dynamodb.amazonaws.com", "ListTables", r#"{"limit":100}"#),
    (
        "dynamodb.amazonaws.com",
        "DescribeTable",
        r#"{"tableName":"orders-api-orders"}"#,
    ),
    ("ecs.amazonaws.com", "ListClusters", "null"),
    (
        "ecs.amazonaws.com",
        "DescribeServices",
        r#"{"cluster":"main","services":["orders-api"]}"#,
    ),
    ("rds.amazonaws.com", "DescribeDBInstances", "null"),
    ("cloudformation.amazonaws.com", "DescribeStacks", "null"),
    ("sqs.amazonaws.com", "ListQueues", "null"),
    ("kms.amazonaws.com", "ListAliases", "null"),
    ("secretsmanager.amazonaws.com", "ListSecrets", "null"),
    (
        "ssm.amazonaws.com",
        "GetParameter",
        r#"{"name":"/app/config/feature-flags","withDecryption":false}"#,
    ),
    (
        "cloudtrail.amazonaws.com",
        "LookupEvents",
        r#"{"maxResults":50}"#,
    ),
    (
        "health.amazonaws.com",
        "DescribeEventAggregates",
        r#"{"aggregateField":"eventTypeCategory"}"#,
    ),
    (
        "ce.amazonaws.com",
        "GetCostAndUsage",
        r#"{"granularity":"DAILY","metrics":["UnblendedCost"]}"#,
    ),
    ("sts.amazonaws.com", "GetCallerIdentity", "null"),
];

/// Writes people and pipelines make now and then: (source, name, request, response).
const CHANGES: &[(&str, &str, &str)] = &[
    (
        "ec2.amazonaws.com",
        "CreateTags",
        r#"{"resourcesSet":{"items":[{"resourceId":"i-0a1b2c3d4e5f60718"}]},"tagSet":{"items":[{"key":"owner","value":"platform"}]}}"#,
    ),
    (
        "ec2.amazonaws.com",
        "StartInstances",
        r#"{"instancesSet":{"items":[{"instanceId":"i-0a1b2c3d4e5f60718"}]}}"#,
    ),
    (
        "ec2.amazonaws.com",
        "StopInstances",
        r#"{"instancesSet":{"items":[{"instanceId":"i-0a1b2c3d4e5f60718"}]},"force":false}"#,
    ),
    (
        "lambda.amazonaws.com",
        "UpdateFunctionConfiguration20150331v2",
        r#"{"functionName":"billing-worker","timeout":30}"#,
    ),
    (
        "ssm.amazonaws.com",
        "PutParameter",
        r#"{"name":"/app/config/feature-flags","type":"String","overwrite":true}"#,
    ),
    (
        "logs.amazonaws.com",
        "PutRetentionPolicy",
        r#"{"logGroupName":"/aws/lambda/billing-worker","retentionInDays":30}"#,
    ),
    (
        "s3.amazonaws.com",
        "PutBucketTagging",
        r#"{"bucketName":"reports","Host":"s3.amazonaws.com","tagging":""}"#,
    ),
    (
        "ecs.amazonaws.com",
        "UpdateService",
        r#"{"cluster":"main","service":"orders-api","desiredCount":3}"#,
    ),
];

/// Rarely used APIs: the long tail.
const LONG_TAIL: &[(&str, &str)] = &[
    ("acm.amazonaws.com", "ListCertificates"),
    ("route53.amazonaws.com", "ListHostedZones"),
    ("route53.amazonaws.com", "GetHostedZone"),
    (
        "elasticloadbalancing.amazonaws.com",
        "DescribeLoadBalancers",
    ),
    ("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth"),
    ("autoscaling.amazonaws.com", "DescribeAutoScalingGroups"),
    ("sns.amazonaws.com", "ListTopics"),
    ("events.amazonaws.com", "ListRules"),
    ("states.amazonaws.com", "ListStateMachines"),
    ("glue.amazonaws.com", "GetDatabases"),
    ("athena.amazonaws.com", "ListWorkGroups"),
    ("ecr.amazonaws.com", "DescribeRepositories"),
    ("ecr.amazonaws.com", "GetAuthorizationToken"),
    ("elasticache.amazonaws.com", "DescribeCacheClusters"),
    ("kinesis.amazonaws.com", "ListStreams"),
    ("apigateway.amazonaws.com", "GetRestApis"),
    ("cloudfront.amazonaws.com", "ListDistributions"),
    ("organizations.amazonaws.com", "DescribeOrganization"),
    ("organizations.amazonaws.com", "ListAccounts"),
    ("sso.amazonaws.com", "ListPermissionSets"),
    ("backup.amazonaws.com", "ListBackupPlans"),
    ("servicequotas.amazonaws.com", "ListServiceQuotas"),
    ("tagging.amazonaws.com", "GetResources"),
    ("access-analyzer.amazonaws.com", "ListAnalyzers"),
    ("securityhub.amazonaws.com", "GetFindings"),
    ("guardduty.amazonaws.com", "ListFindings"),
    ("config.amazonaws.com", "DescribeConfigRules"),
    ("waf.amazonaws.com", "ListWebACLs"),
    ("ram.amazonaws.com", "GetResourceShares"),
    ("codebuild.amazonaws.com", "ListProjects"),
    ("codepipeline.amazonaws.com", "ListPipelines"),
    ("eks.amazonaws.com", "ListClusters"),
    ("redshift.amazonaws.com", "DescribeClusters"),
    ("es.amazonaws.com", "ListDomainNames"),
    ("iam.amazonaws.com", "GetAccountSummary"),
    ("iam.amazonaws.com", "GetAccountPasswordPolicy"),
    ("ec2.amazonaws.com", "DescribeImages"),
    ("ec2.amazonaws.com", "DescribeSnapshots"),
    ("ec2.amazonaws.com", "DescribeKeyPairs"),
    ("ec2.amazonaws.com", "DescribeNatGateways"),
];

/// Resolves a session key for an hour: the same key all hour, a new one each hour.
fn hour_key(seed: &str, hour: i64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes().chain(hour.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut s = String::from("ASIA");
    for i in 0..16 {
        let v = (h >> ((i * 4) % 60)) as usize ^ i;
        s.push(crate::record::UPPER_ALNUM[v % 32] as char);
    }
    s
}

fn app_ua(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Lambda => SDK_PY_UA,
        Runtime::Ecs => SDK_JAVA_UA,
        Runtime::Ec2 => SDK_GO_UA,
    }
}

/// The identity of an application's session during the hour starting at `hour_start`.
pub(crate) fn app_identity(account: &Account, app: &App, session: &str, hour_start: i64) -> String {
    let key = hour_key(&format!("{}{session}", app.role.id), hour_start);
    ident::role_session(
        &account.id,
        &app.role.name,
        &app.role.id,
        session,
        &key,
        hour_start - 300,
        SessionOpts {
            ec2: app.runtime == Runtime::Ec2,
            ..SessionOpts::default()
        },
    )
}

/// Calls an application makes, with the weight of each.
#[derive(Debug, Clone, Copy)]
enum AppCall {
    GetObject,
    PutObject,
    GetItem,
    PutItem,
    Query,
    Decrypt,
    GenerateDataKey,
    SendMessage,
    ReceiveMessage,
    DeleteMessage,
    GetSecretValue,
}

const APP_CALLS: &[(AppCall, u32)] = &[
    (AppCall::GetObject, 22),
    (AppCall::PutObject, 8),
    (AppCall::GetItem, 16),
    (AppCall::PutItem, 6),
    (AppCall::Query, 8),
    (AppCall::Decrypt, 10),
    (AppCall::GenerateDataKey, 4),
    (AppCall::SendMessage, 6),
    (AppCall::ReceiveMessage, 12),
    (AppCall::DeleteMessage, 5),
    (AppCall::GetSecretValue, 1),
];

/// Writes an S3 object call's request, additional data and resources.
pub(crate) fn s3_object(
    bucket: &str,
    key: &str,
    region: &str,
    account: &str,
    bytes_out: u64,
    bytes_in: u64,
    rng: &mut impl Rng,
) -> (String, String, String) {
    let req = format!(
        "{{\"bucketName\":\"{bucket}\",\"Host\":\"{bucket}.s3.{region}.amazonaws.com\",\"key\":\"{key}\"}}"
    );
    let add = format!(
        "{{\"SignatureVersion\":\"SigV4\",\"CipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"bytesTransferredIn\":{bytes_in},\"AuthenticationMethod\":\"AuthHeader\",\"x-amz-id-2\":\"{}=\",\"bytesTransferredOut\":{bytes_out}}}",
        random_chars(rng, crate::record::ALNUM, 76)
    );
    let res = format!(
        "[{{\"type\":\"AWS::S3::Object\",\"ARN\":\"arn:aws:s3:::{bucket}/{key}\"}},{{\"accountId\":\"{account}\",\"type\":\"AWS::S3::Bucket\",\"ARN\":\"arn:aws:s3:::{bucket}\"}}]"
    );
    (req, add, res)
}

/// A DynamoDB table resource list.
pub(crate) fn table_resources(account: &str, region: &str, table: &str) -> String {
    format!(
        "[{{\"accountId\":\"{account}\",\"type\":\"AWS::DynamoDB::Table\",\"ARN\":\"arn:aws:dynamodb:{region}:{account}:table/{table}\"}}]"
    )
}

fn pick_weighted<T: Copy>(rng: &mut impl Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total.max(1));
    for (item, w) in items {
        if x < *w {
            return *item;
        }
        x -= w;
    }
    items[0].0
}

fn app_event(em: &mut Emitter, account: &Account, app: &App, t: i64, identity: &str) {
    let region: &'static str = account.regions[0];
    let what = pick_weighted(&mut em.rng, APP_CALLS);
    let acct = account.id.as_str();
    let base = Call {
        ip: &app.private_ip,
        user_agent: app_ua(app.runtime),
        vpc_endpoint: Some(&app.vpce),
        ..Call::new(t, identity, "", "", region, acct)
    };
    let throttled = em.rng.random_ratio(1, 400);
    match what {
        AppCall::GetObject | AppCall::PutObject => {
            let n = em.rng.random_range(0..5000);
            let key = format!(
                "data/{}/part-{n:05}.json",
                time_string(t).get(..10).unwrap_or("")
            );
            let size = em.rng.random_range(800..400_000);
            let get = matches!(what, AppCall::GetObject);
            let (req, add, res) = s3_object(
                &app.bucket,
                &key,
                region,
                acct,
                if get { size } else { 0 },
                if get { 0 } else { size },
                &mut em.rng,
            );
            let resp = if get {
                String::new()
            } else {
                format!(
                    "{{\"x-amz-server-side-encryption\":\"aws:kms\",\"x-amz-server-side-encryption-aws-kms-key-id\":\"arn:aws:kms:{region}:{acct}:key/{}\",\"x-amz-version-id\":\"{}\"}}",
                    app.kms_key,
                    random_chars(&mut em.rng, crate::record::ALNUM, 32)
                )
            };
            let call = Call {
                source: "s3.amazonaws.com",
                name: if get { "GetObject" } else { "PutObject" },
                request: &req,
                response: &resp,
                additional: &add,
                resources: &res,
                read_only: get,
                category: Category::Data,
                host: "",
                ..base
            };
            em.emit(&call, region);
        }
        AppCall::GetItem | AppCall::PutItem | AppCall::Query => {
            let id = random_chars(&mut em.rng, LOWER_HEX, 12);
            let (name, req) = match what {
                AppCall::GetItem => (
                    "GetItem",
                    format!(
                        "{{\"tableName\":\"{}\",\"key\":{{\"pk\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}},\"consistentRead\":false,\"projectionExpression\":\"pk, #s, updatedAt\",\"expressionAttributeNames\":{{\"#s\":\"status\"}},\"requestId\":\"{id}\"}}",
                        app.table
                    ),
                ),
                AppCall::PutItem => (
                    "PutItem",
                    format!(
                        "{{\"tableName\":\"{}\",\"key\":{{\"pk\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}},\"item\":[\"pk\",\"status\",\"updatedAt\",\"payload\"],\"conditionExpression\":\"attribute_not_exists(pk)\"}}",
                        app.table
                    ),
                ),
                _ => (
                    "Query",
                    format!(
                        "{{\"tableName\":\"{}\",\"indexName\":\"by-status\",\"limit\":100,\"keyConditionExpression\":\"#s = :s\",\"expressionAttributeNames\":{{\"#s\":\"status\"}},\"scanIndexForward\":false}}",
                        app.table
                    ),
                ),
            };
            let res = table_resources(acct, region, &app.table);
            let call = Call {
                source: "dynamodb.amazonaws.com",
                name,
                request: &req,
                resources: &res,
                category: Category::Data,
                error: throttled.then_some((
                    "ProvisionedThroughputExceededException",
                    "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
                )),
                ..base
            };
            em.emit(&call, region);
        }
        AppCall::Decrypt | AppCall::GenerateDataKey => {
            let decrypt = matches!(what, AppCall::Decrypt);
            let req = if decrypt {
                format!(
                    "{{\"encryptionAlgorithm\":\"SYMMETRIC_DEFAULT\",\"encryptionContext\":{{\"aws:s3:arn\":\"arn:aws:s3:::{}\"}}}}",
                    app.bucket
                )
            } else {
                format!(
                    "{{\"keyId\":\"arn:aws:kms:{region}:{acct}:key/{}\",\"keySpec\":\"AES_256\",\"encryptionContext\":{{\"aws:s3:arn\":\"arn:aws:s3:::{}\"}}}}",
                    app.kms_key, app.bucket
                )
            };
            let res = format!(
                "[{{\"accountId\":\"{acct}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{region}:{acct}:key/{}\"}}]",
                app.kms_key
            );
            let call = Call {
                source: "kms.amazonaws.com",
                name: if decrypt {
                    "Decrypt"
                } else {
                    "GenerateDataKey"
                },
                request: &req,
                resources: &res,
                read_only: true,
                error: throttled.then_some(("ThrottlingException", "Rate exceeded")),
                ..base
            };
            em.emit(&call, region);
        }
        AppCall::SendMessage | AppCall::ReceiveMessage | AppCall::DeleteMessage => {
            let url = format!("https://sqs.{region}.amazonaws.com/{acct}/{}", app.queue);
            let (name, req) = match what {
                AppCall::SendMessage => (
                    "SendMessage",
                    format!(
                        "{{\"queueUrl\":\"{url}\",\"messageBody\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}}"
                    ),
                ),
                AppCall::ReceiveMessage => (
                    "ReceiveMessage",
                    format!(
                        "{{\"queueUrl\":\"{url}\",\"maxNumberOfMessages\":10,\"waitTimeSeconds\":20}}"
                    ),
                ),
                _ => (
                    "DeleteMessage",
                    format!(
                        "{{\"queueUrl\":\"{url}\",\"receiptHandle\":\"HIDDEN_DUE_TO_SECURITY_REASONS\"}}"
                    ),
                ),
            };
            let res = format!(
                "[{{\"accountId\":\"{acct}\",\"type\":\"AWS::SQS::Queue\",\"ARN\":\"arn:aws:sqs:{region}:{acct}:{}\"}}]",
                app.queue
            );
            let call = Call {
                source: "sqs.amazonaws.com",
                name,
                request: &req,
                resources: &res,
                category: Category::Data,
                ..base
            };
            em.emit(&call, region);
        }
        AppCall::GetSecretValue => {
            let req = format!(
                "{{\"secretId\":\"arn:aws:secretsmanager:{region}:{acct}:secret:{}-AbCdEf\"}}",
                app.secret
            );
            let call = Call {
                source: "secretsmanager.amazonaws.com",
                name: "GetSecretValue",
                request: &req,
                ..base
            };
            em.emit(&call, region);
        }
    }
}

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// The number of events the day's people, pipelines and applications make, by share.
struct Budget {
    apps: u64,
    services: u64,
    people: u64,
    ci: u64,
}

fn budget(events: u64, weekend: bool) -> Budget {
    let scale = |share: u64, quiet: bool| {
        let n = events * share / 100;
        if quiet && weekend { n / 8 } else { n }
    };
    Budget {
        apps: scale(58, false),
        services: scale(12, false),
        people: scale(20, true),
        ci: scale(10, true),
    }
}

/// Generates the benign activity of account `a` on the day starting at `day`.
pub(crate) fn day(em: &mut Emitter, org: &Org, a: usize, day: i64, events: u64) {
    let account = &org.accounts[a];
    let weekend = trailhound_core::Timestamp::from_secs(day).weekday() >= 5;
    let b = budget(events, weekend);
    applications(em, account, day, b.apps);
    services(em, account, day, b.services);
    people(em, org, a, day, b.people);
    pipelines(em, account, day, b.ci);
    scheduled(em, account, day);
}

fn applications(em: &mut Emitter, account: &Account, day: i64, n: u64) {
    if account.apps.is_empty() {
        return;
    }
    // Identities per (app, session, hour), rendered once.
    let mut cache: Vec<Option<String>> = vec![None; account.apps.len() * 3 * 24];
    for _ in 0..n {
        let k = em.rng.random_range(0..account.apps.len());
        let s = em.rng.random_range(0..3);
        let t = day + em.rng.random_range(0..DAY);
        let hour = (t - day) / 3600;
        let app = &account.apps[k];
        let slot = (k * 3 + s) * 24 + usize::try_from(hour).unwrap_or(0);
        let identity = cache[slot]
            .get_or_insert_with(|| app_identity(account, app, &app.sessions[s], day + hour * 3600))
            .clone();
        app_event(em, account, app, t, &identity);
    }
}

fn services(em: &mut Emitter, account: &Account, day: i64, n: u64) {
    let acct = account.id.as_str();
    let config_role = crate::org::Role {
        name: "AWSServiceRoleForConfig".into(),
        id: "AROA4CONFIGSERVICE01".into(),
    };
    let config_ident = ident::role_session(
        acct,
        &config_role.name,
        &config_role.id,
        "AWSConfig-Describe",
        &hour_key(acct, day),
        day,
        SessionOpts {
            invoked_by: Some("config.amazonaws.com"),
            ..SessionOpts::default()
        },
    );
    for _ in 0..n {
        let t = day + em.rng.random_range(0..DAY);
        let region: &'static str = account.regions[em.rng.random_range(0..account.regions.len())];
        let r = em.rng.random_range(0..10);
        if r < 6 && !account.apps.is_empty() {
            // A service assumes an application's role.
            let app = &account.apps[em.rng.random_range(0..account.apps.len())];
            let by = match app.runtime {
                Runtime::Lambda => "lambda.amazonaws.com",
                Runtime::Ecs => "ecs-tasks.amazonaws.com",
                Runtime::Ec2 => "ec2.amazonaws.com",
            };
            let session = app.sessions[em.rng.random_range(0..app.sessions.len())].as_str();
            let identity = ident::service(by);
            let key = access_key(&mut em.rng, true);
            let token = random_chars(&mut em.rng, crate::record::ALNUM, 120);
            let req = format!(
                "{{\"roleArn\":\"arn:aws:iam::{acct}:role/{}\",\"roleSessionName\":\"{session}\",\"durationSeconds\":3600}}",
                app.role.name
            );
            let (y, mo, d, h, mi, s, _) = trailhound_core::Timestamp::from_secs(t + 3600).parts();
            let month = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ][(mo as usize + 11) % 12];
            let (h12, ampm) = if h == 0 {
                (12, "AM")
            } else if h < 12 {
                (h, "AM")
            } else if h == 12 {
                (12, "PM")
            } else {
                (h - 12, "PM")
            };
            let resp = format!(
                "{{\"credentials\":{{\"accessKeyId\":\"{key}\",\"sessionToken\":\"IQoJb3JpZ2luX2Vj{token}\",\"expiration\":\"{month} {d}, {y}, {h12}:{mi:02}:{s:02} {ampm}\"}},\"assumedRoleUser\":{{\"assumedRoleId\":\"{}:{session}\",\"arn\":\"arn:aws:sts::{acct}:assumed-role/{}/{session}\"}}}}",
                app.role.id, app.role.name
            );
            let res = format!(
                "[{{\"accountId\":\"{acct}\",\"type\":\"AWS::IAM::Role\",\"ARN\":\"arn:aws:iam::{acct}:role/{}\"}}]",
                app.role.name
            );
            let call = Call {
                ip: by,
                user_agent: by,
                request: &req,
                response: &resp,
                resources: &res,
                read_only: true,
                ..Call::new(
                    t,
                    &identity,
                    "sts.amazonaws.com",
                    "AssumeRole",
                    region,
                    acct,
                )
            };
            em.emit(&call, region);
        } else if r < 9 {
            let (source, name, req) = *BROWSE[..5].choose(&mut em.rng).unwrap_or(&BROWSE[0]);
            let call = Call {
                ip: "config.amazonaws.com",
                user_agent: "config.amazonaws.com",
                request: req,
                ..Call::new(t, &config_ident, source, name, region, acct)
            };
            em.emit(&call, region);
        } else {
            let key = account.kms_keys.first().map_or("", String::as_str);
            let req = format!("{{\"keyId\":\"arn:aws:kms:{region}:{acct}:key/{key}\"}}");
            let res = format!(
                "[{{\"accountId\":\"{acct}\",\"type\":\"AWS::KMS::Key\",\"ARN\":\"arn:aws:kms:{region}:{acct}:key/{key}\"}}]"
            );
            let identity = ident::service("kms.amazonaws.com");
            let call = Call {
                request: &req,
                resources: &res,
                category: Category::Management,
                user_agent: "kms.amazonaws.com",
                ip: "kms.amazonaws.com",
                ..Call::new(
                    t,
                    &identity,
                    "kms.amazonaws.com",
                    "GenerateDataKey",
                    region,
                    acct,
                )
            };
            em.emit(&call, region);
        }
    }
}

/// One person's working session in an account: console or CLI.
struct Session {
    identity: String,
    principal: String,
    ip: String,
    console: bool,
    start: i64,
    mfa: bool,
    iam: Option<usize>,
}

fn people(em: &mut Emitter, org: &Org, a: usize, day: i64, n: u64) {
    let account = &org.accounts[a];
    let accounts = org.accounts.len();
    let weekend = trailhound_core::Timestamp::from_secs(day).weekday() >= 5;
    let mut sessions = Vec::new();
    for (p, person) in org.people.iter().enumerate() {
        let chance = if weekend {
            0.05
        } else {
            (2.0 / accounts as f64).min(0.9)
        };
        if !em.rng.random_bool(chance) {
            continue;
        }
        let local_start = em.rng.random_range(8 * 3600..17 * 3600);
        let start = day + local_start - person.utc_offset * 3600;
        let start = start.clamp(day, day + DAY - 7200);
        let ip = org.person_ip(&mut em.rng, p).to_owned();
        let console = !person.cli || em.rng.random_bool(0.3);
        let iam = account.users.iter().position(|u| u.person == Some(p));
        let (identity, principal) = if let Some(u) = iam {
            let user = &account.users[u];
            let id = if console {
                ident::iam_user_console(
                    &account.id,
                    &user.name,
                    &user.principal_id,
                    &access_key(&mut em.rng, true),
                    start,
                    person.mfa,
                )
            } else {
                ident::iam_user(
                    &account.id,
                    &user.name,
                    &user.principal_id,
                    &user.access_key,
                )
            };
            (
                id,
                format!("arn:aws:iam::{}:user/{}", account.id, user.name),
            )
        } else {
            let role = &person.sso_role;
            let key = access_key(&mut em.rng, true);
            let id = ident::role_session(
                &account.id,
                &role.name,
                &role.id,
                &person.email,
                &key,
                start,
                SessionOpts::default(),
            );
            (
                id,
                ident::session_arn(&account.id, &role.name, &person.email),
            )
        };
        sessions.push(Session {
            identity,
            principal,
            ip,
            console,
            start,
            mfa: person.mfa,
            iam,
        });
    }
    if sessions.is_empty() {
        return;
    }
    let per = n / sessions.len() as u64;
    for s in &sessions {
        let region: &'static str = account.regions[0];
        let acct = account.id.as_str();
        let ua = if s.console { CONSOLE_UA } else { CLI_UA };
        if s.console {
            let (identity, add, resp);
            if let Some(u) = s.iam {
                let user = &account.users[u];
                identity = ident::iam_user(acct, &user.name, &user.principal_id, "");
                add = format!(
                    "{{\"LoginTo\":\"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true\",\"MobileVersion\":\"No\",\"MFAIdentifier\":\"arn:aws:iam::{acct}:mfa/{}\",\"MFAUsed\":\"{}\"}}",
                    user.name,
                    if s.mfa { "Yes" } else { "No" }
                );
            } else {
                identity = s.identity.clone();
                add = "{\"LoginTo\":\"https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true\",\"MobileVersion\":\"No\",\"MFAUsed\":\"No\"}".to_owned();
            }
            resp = "{\"ConsoleLogin\":\"Success\"}".to_owned();
            let call = Call {
                ip: &s.ip,
                user_agent: ua,
                response: &resp,
                additional: &add,
                category: Category::SignIn,
                read_only: false,
                host: "signin.aws.amazon.com",
                ..Call::new(
                    s.start,
                    &identity,
                    "signin.amazonaws.com",
                    "ConsoleLogin",
                    "us-east-1",
                    acct,
                )
            };
            em.emit(&call, "us-east-1");
        }
        let _ = &s.principal;
        let span = em.rng.random_range(1200..5400);
        for _ in 0..per {
            let t = s.start + 5 + em.rng.random_range(0..span);
            let roll = em.rng.random_range(0..1000);
            let (source, name, req) = if roll < 930 {
                *BROWSE.choose(&mut em.rng).unwrap_or(&BROWSE[0])
            } else if roll < 980 {
                *CHANGES.choose(&mut em.rng).unwrap_or(&CHANGES[0])
            } else {
                let (s, n) = *LONG_TAIL.choose(&mut em.rng).unwrap_or(&LONG_TAIL[0]);
                (s, n, "null")
            };
            let err = em.rng.random_range(0..1000);
            let error = if err < 2 {
                Some((
                    "AccessDenied",
                    "User is not authorized to perform this operation because no identity-based policy allows the action",
                ))
            } else if err < 12 && source == "iam.amazonaws.com" {
                Some((
                    "NoSuchEntity",
                    "The role with name orders-api-task-role cannot be found.",
                ))
            } else if err < 18 && source == "ec2.amazonaws.com" {
                Some(("Client.RequestLimitExceeded", "Request limit exceeded."))
            } else {
                None
            };
            let call = Call {
                ip: &s.ip,
                user_agent: ua,
                request: req,
                error,
                ..Call::new(t, &s.identity, source, name, region, acct)
            };
            em.emit(&call, region);
        }
    }
}

fn pipelines(em: &mut Emitter, account: &Account, day: i64, n: u64) {
    let weekend = trailhound_core::Timestamp::from_secs(day).weekday() >= 5;
    let runs = if weekend {
        1
    } else {
        em.rng.random_range(2..6)
    };
    let per = n / runs;
    let acct = account.id.as_str();
    let ci = geo::with_purpose(Purpose::Ci);
    for _ in 0..runs {
        let start = day + em.rng.random_range(13 * 3600..22 * 3600);
        let run = em.rng.random_range(1_000_000_000_u64..9_999_999_999);
        let session = format!("terraform-{run}");
        let ip = geo::host(ci.first().copied().unwrap_or(0), em.rng.random_range(0..62));
        let subject = "repo:example/infrastructure:ref:refs/heads/main";
        let wid = ident::web_identity(acct, subject);
        let key = access_key(&mut em.rng, true);
        let req = format!(
            "{{\"roleArn\":\"arn:aws:iam::{acct}:role/{}\",\"roleSessionName\":\"{session}\",\"durationSeconds\":3600}}",
            account.deploy_role.name
        );
        let resp = format!(
            "{{\"credentials\":{{\"accessKeyId\":\"{key}\",\"sessionToken\":\"IQoJb3JpZ2luX2VjE{}\"}},\"subjectFromWebIdentityToken\":\"{subject}\",\"assumedRoleUser\":{{\"assumedRoleId\":\"{}:{session}\",\"arn\":\"{}\"}},\"provider\":\"arn:aws:iam::{acct}:oidc-provider/token.actions.example.com\",\"audience\":\"sts.amazonaws.com\"}}",
            random_chars(&mut em.rng, crate::record::ALNUM, 100),
            account.deploy_role.id,
            ident::session_arn(acct, &account.deploy_role.name, &session)
        );
        let call = Call {
            ip: &ip,
            user_agent: "aws-sdk-js/3.709.0 ua/2.1 os/linux#6.5.0-1025-azure lang/js md/nodejs#20.18.1 api/sts#3.709.0 m/E,e",
            request: &req,
            response: &resp,
            read_only: true,
            ..Call::new(
                start,
                &wid,
                "sts.amazonaws.com",
                "AssumeRoleWithWebIdentity",
                "us-east-1",
                acct,
            )
        };
        em.emit(&call, "us-east-1");
        let identity = ident::role_session(
            acct,
            &account.deploy_role.name,
            &account.deploy_role.id,
            &session,
            &key,
            start,
            SessionOpts::default(),
        );
        for i in 0..per {
            let t = start
                + 3
                + i64::try_from(i).unwrap_or(0) * 240 / i64::try_from(per.max(1)).unwrap_or(1);
            let region: &'static str =
                account.regions[em.rng.random_range(0..account.regions.len())];
            let (source, name, req) = if em.rng.random_ratio(1, 25) {
                *CHANGES.choose(&mut em.rng).unwrap_or(&CHANGES[0])
            } else {
                *BROWSE.choose(&mut em.rng).unwrap_or(&BROWSE[0])
            };
            let call = Call {
                ip: &ip,
                user_agent: TERRAFORM_UA,
                request: req,
                ..Call::new(t, &identity, source, name, region, acct)
            };
            em.emit(&call, region);
        }
    }
}

/// Nightly jobs: a reporting user exports costs; CloudFormation drift detection.
fn scheduled(em: &mut Emitter, account: &Account, day: i64) {
    let acct = account.id.as_str();
    if let Some(user) = account.users.iter().find(|u| u.name == "svc-reporting") {
        let identity = ident::iam_user(acct, &user.name, &user.principal_id, &user.access_key);
        let ip = geo::host(0, 40);
        let start = day + 2 * 3600 + em.rng.random_range(0..120);
        for (i, (source, name, req)) in [
            ("ce.amazonaws.com", "GetCostAndUsage", r#"{"granularity":"DAILY","metrics":["UnblendedCost"],"groupBy":[{"type":"DIMENSION","key":"SERVICE"}]}"#),
            ("ce.amazonaws.com", "GetCostForecast", r#"{"metric":"UNBLENDED_COST","granularity":"MONTHLY"}"#),
            ("organizations.amazonaws.com", "ListAccounts", "null"),
            ("s3.amazonaws.com", "ListBuckets", r#"{"Host":"s3.amazonaws.com"}"#),
        ]
        .into_iter()
        .enumerate()
        {
            let call = Call {
                ip: &ip,
                user_agent: SDK_PY_UA,
                request: req,
                ..Call::new(start + i as i64 * 2, &identity, source, name, "us-east-1", acct)
            };
            em.emit(&call, "us-east-1");
        }
    }
    let identity = ident::service("cloudformation.amazonaws.com");
    let t = day + 3 * 3600 + em.rng.random_range(0..600);
    let region: &'static str = account.regions[0];
    let mut req = String::new();
    let _ = write!(
        req,
        "{{\"stackName\":\"arn:aws:cloudformation:{region}:{acct}:stack/platform-baseline/{}\"}}",
        crate::record::uuid(&mut em.rng)
    );
    let call = Call {
        ip: "cloudformation.amazonaws.com",
        user_agent: "cloudformation.amazonaws.com",
        request: &req,
        read_only: false,
        ..Call::new(
            t,
            &identity,
            "cloudformation.amazonaws.com",
            "DetectStackDrift",
            region,
            acct,
        )
    };
    em.emit(&call, region);
}

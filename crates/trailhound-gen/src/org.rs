//! The organisation model: accounts, regions, people, applications, pipelines.

use std::fmt::Write as _;

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::geo::{self, Purpose};
use crate::record::{LOWER_HEX, access_key, random_chars, unique_id, uuid};

/// The user name of the canary IAM user: it exists, has an access key, and never acts.
pub const CANARY_USER: &str = "svc-backup-legacy";
/// The canary user's access key id. Any call with it is an attacker holding planted keys.
pub const CANARY_ACCESS_KEY_ID: &str = "AKIA5CANARYBACKUP012";
/// A decoy DynamoDB table nothing legitimate reads.
pub const HONEYPOT_TABLE: &str = "customer-pii-export";
/// A decoy S3 bucket nothing legitimate reads.
pub const HONEYPOT_BUCKET: &str = "example-finance-archive";
/// The decoy prefix of [`HONEYPOT_BUCKET`].
pub const HONEYPOT_PREFIX: &str = "payroll/";
/// The account id of an outsider that attackers share resources with or trust.
pub const OUTSIDE_ACCOUNT: &str = "444455556666";
/// The primary region of every account.
pub const PRIMARY_REGION: &str = "us-east-1";
/// Secondary regions, the first few used by each account.
pub const SECONDARY_REGIONS: &[&str] = &["eu-west-1", "us-west-2", "ap-southeast-2"];

const ACCOUNT_NAMES: &[&str] = &[
    "management",
    "prod",
    "staging",
    "data",
    "dev",
    "security",
    "sandbox",
    "shared-services",
];

const PEOPLE: &[(&str, &str)] = &[
    ("alice.nguyen", "US"),
    ("bob.smith", "US"),
    ("carol.jones", "GB"),
    ("dev.patel", "IN"),
    ("erin.garcia", "US"),
    ("farid.haddad", "DE"),
    ("grace.kim", "CA"),
    ("henrik.larsen", "DE"),
    ("ines.costa", "GB"),
    ("jonas.weber", "DE"),
    ("kavya.rao", "IN"),
    ("liam.obrien", "GB"),
];

/// What runs an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    /// AWS Lambda.
    Lambda,
    /// Amazon ECS tasks.
    Ecs,
    /// EC2 instances with an instance profile.
    Ec2,
}

const APPS: &[(&str, Runtime)] = &[
    ("orders-api", Runtime::Ecs),
    ("billing-worker", Runtime::Lambda),
    ("web-frontend", Runtime::Ec2),
    ("ingest-pipeline", Runtime::Lambda),
    ("reports-batch", Runtime::Ecs),
    ("search-indexer", Runtime::Ec2),
    ("image-resizer", Runtime::Lambda),
];

/// An AWS account of the organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Account {
    /// 12-digit id.
    pub id: String,
    /// Short name (`management`, `prod`…).
    pub name: String,
    /// Regions in use, primary first.
    pub regions: Vec<&'static str>,
    /// IAM users of the account.
    pub users: Vec<IamUser>,
    /// Applications running in the account.
    pub apps: Vec<App>,
    /// The Terraform deployment role.
    pub deploy_role: Role,
    /// The GuardDuty detector id.
    pub detector_id: String,
    /// The trail name.
    pub trail: String,
    /// A VPC id.
    pub vpc: String,
    /// Customer managed KMS key ids.
    pub kms_keys: Vec<String>,
}

/// An IAM user with a long-term access key.
#[derive(Debug, Clone, Serialize)]
pub struct IamUser {
    /// User name.
    pub name: String,
    /// `AIDA…` principal id.
    pub principal_id: String,
    /// `AKIA…` key id.
    pub access_key: String,
    /// Index in the organisation's people, when a person owns it.
    pub person: Option<usize>,
}

/// An IAM role.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// `AROA…` id.
    pub id: String,
}

/// An application and the resources it uses.
#[derive(Debug, Clone, Serialize)]
pub struct App {
    /// Name.
    pub name: String,
    /// Runtime.
    pub runtime: Runtime,
    /// Execution or instance role.
    pub role: Role,
    /// Instance ids (EC2) or task/function session names.
    pub sessions: Vec<String>,
    /// Bucket.
    pub bucket: String,
    /// DynamoDB table.
    pub table: String,
    /// SQS queue.
    pub queue: String,
    /// KMS key id.
    pub kms_key: String,
    /// Secrets Manager secret name.
    pub secret: String,
    /// Private address the workload calls from.
    pub private_ip: String,
    /// VPC endpoint id.
    pub vpce: String,
}

/// A person working in the organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Person {
    /// `first.last`.
    pub name: String,
    /// Email, the Identity Center session name.
    pub email: String,
    /// Country they work from.
    pub country: &'static str,
    /// Addresses they work from (office and home).
    pub ips: Vec<String>,
    /// Signs in with MFA.
    pub mfa: bool,
    /// Prefers the CLI over the console.
    pub cli: bool,
    /// Hours from UTC of their working day.
    pub utc_offset: i64,
    /// Identity Center permission set role ids per account index.
    pub sso_role: Role,
}

/// The whole organisation.
#[derive(Debug, Clone, Serialize)]
pub struct Org {
    /// `o-…`.
    pub id: String,
    /// Accounts; the first is the management account.
    pub accounts: Vec<Account>,
    /// People.
    pub people: Vec<Person>,
}

fn role<R: Rng>(rng: &mut R, name: String) -> Role {
    Role {
        id: unique_id(rng, "AROA"),
        name,
    }
}

impl Org {
    /// Builds the organisation of `accounts` accounts from `rng`.
    #[must_use]
    pub fn build(rng: &mut ChaCha8Rng, accounts: usize) -> Org {
        let id = format!(
            "o-{}",
            random_chars(rng, b"abcdefghijklmnopqrstuvwxyz0123456789", 10)
        );
        let offices = geo::with_purpose(Purpose::Office);
        let homes = geo::with_purpose(Purpose::Home);
        let mut people = Vec::new();
        for (i, (name, country)) in PEOPLE.iter().enumerate() {
            let home = homes
                .iter()
                .copied()
                .find(|&h| geo::NETWORKS[h].country == *country)
                .unwrap_or(homes[0]);
            let office = offices
                .iter()
                .copied()
                .find(|&o| geo::NETWORKS[o].country == *country)
                .unwrap_or(offices[i % offices.len()]);
            let ips = vec![
                geo::host(office, rng.random_range(0..62)),
                geo::host(home, rng.random_range(0..62)),
                geo::host(home, rng.random_range(0..62)),
            ];
            let utc_offset = match *country {
                "US" | "CA" => -5,
                "GB" => 0,
                "DE" => 1,
                _ => 5,
            };
            people.push(Person {
                name: (*name).to_owned(),
                email: format!("{name}@example.com"),
                country,
                ips,
                // IAM users (every third person) all use MFA; one Identity Center user has none.
                mfa: i % 5 != 4 || i % 3 == 0,
                cli: i % 3 == 1,
                utc_offset,
                sso_role: {
                    let set = if i % 4 == 0 {
                        "AdministratorAccess"
                    } else {
                        "PowerUserAccess"
                    };
                    let tag = random_chars(rng, LOWER_HEX, 16);
                    role(rng, format!("AWSReservedSSO_{set}_{tag}"))
                },
            });
        }
        let mut list = Vec::new();
        for a in 0..accounts.max(1) {
            let mut id = String::new();
            let _ = write!(
                id,
                "{}",
                rng.random_range(100_000_000_000_u64..999_999_999_999)
            );
            let name = ACCOUNT_NAMES
                .get(a)
                .map_or_else(|| format!("workload-{a}"), |n| (*n).to_owned());
            let mut regions = vec![PRIMARY_REGION];
            regions.extend(
                SECONDARY_REGIONS
                    .iter()
                    .take(1 + a % SECONDARY_REGIONS.len()),
            );
            let mut users = Vec::new();
            for (p, person) in people.iter().enumerate() {
                if p % 3 == 0 && p / 3 % accounts.max(1) == a {
                    users.push(IamUser {
                        name: person.name.clone(),
                        principal_id: unique_id(rng, "AIDA"),
                        access_key: access_key(rng, false),
                        person: Some(p),
                    });
                }
            }
            users.push(IamUser {
                name: "svc-reporting".to_owned(),
                principal_id: unique_id(rng, "AIDA"),
                access_key: access_key(rng, false),
                person: None,
            });
            if a == 1 % accounts.max(1) {
                users.push(IamUser {
                    name: CANARY_USER.to_owned(),
                    principal_id: unique_id(rng, "AIDA"),
                    access_key: CANARY_ACCESS_KEY_ID.to_owned(),
                    person: None,
                });
            }
            let napps = if a == 0 { 2 } else { 4 + a % 3 };
            let mut apps = Vec::new();
            for k in 0..napps {
                let (app, runtime) = APPS[(a * 2 + k) % APPS.len()];
                let role_name = match runtime {
                    Runtime::Lambda => format!("{app}-lambda-exec"),
                    Runtime::Ecs => format!("{app}-task-role"),
                    Runtime::Ec2 => format!("{app}-instance-role"),
                };
                let sessions = (0..3)
                    .map(|_| match runtime {
                        Runtime::Ec2 => format!("i-0{}", random_chars(rng, LOWER_HEX, 16)),
                        Runtime::Lambda => app.to_owned(),
                        Runtime::Ecs => random_chars(rng, LOWER_HEX, 32),
                    })
                    .collect();
                let suffix = random_chars(rng, b"abcdefghijklmnopqrstuvwxyz0123456789", 6);
                apps.push(App {
                    name: app.to_owned(),
                    runtime,
                    role: role(rng, role_name),
                    sessions,
                    bucket: format!("{name}-{app}-{suffix}"),
                    table: format!("{app}-{}", ["orders", "events", "state", "items"][k % 4]),
                    queue: format!("{app}-queue"),
                    kms_key: uuid(rng),
                    secret: format!("{name}/{app}/db-credentials"),
                    private_ip: format!(
                        "10.{}.{}.{}",
                        a + 10,
                        rng.random_range(0..32),
                        rng.random_range(2..250)
                    ),
                    vpce: format!("vpce-0{}", random_chars(rng, LOWER_HEX, 16)),
                });
            }
            list.push(Account {
                id,
                name,
                regions,
                users,
                apps,
                deploy_role: role(rng, "terraform-deployer".to_owned()),
                detector_id: random_chars(rng, LOWER_HEX, 32),
                trail: "org-trail".to_owned(),
                vpc: format!("vpc-0{}", random_chars(rng, LOWER_HEX, 16)),
                kms_keys: (0..2).map(|_| uuid(rng)).collect(),
            });
        }
        Org {
            id,
            accounts: list,
            people,
        }
    }

    /// A person's random address.
    pub(crate) fn person_ip<'a>(&'a self, rng: &mut ChaCha8Rng, p: usize) -> &'a str {
        self.people[p]
            .ips
            .choose(rng)
            .map_or("192.0.2.10", String::as_str)
    }
}

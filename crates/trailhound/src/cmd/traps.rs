//! `trailhound traps plan`: suggested decoys, how to create them, and the matching config.

use std::fmt::Write as _;
use std::io::Write;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use trailhound_detect::trap::{TrapConfig, TrapKind, TrapsConfig};

/// Arguments of `trailhound traps`.
#[derive(Debug, Args)]
pub struct TrapsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TrapsAction,
}

/// `trailhound traps` subcommands.
#[derive(Debug, Subcommand)]
pub enum TrapsAction {
    /// Print suggested decoy names, the CloudFormation and AWS CLI to create them, and the
    /// trailhound config that watches them.
    Plan(PlanArgs),
}

/// Arguments of `trailhound traps plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The account the decoys live in (used in ARNs and bucket names).
    #[arg(long, default_value = "123456789012")]
    pub account: String,
    /// The region of regional decoys.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

/// One suggested decoy.
struct Decoy {
    trap: TrapConfig,
    why: &'static str,
}

fn decoys(account: &str) -> Vec<Decoy> {
    let trap = |name: &str, kind, value: String| TrapConfig {
        name: name.to_owned(),
        kind,
        value,
        severity: None,
    };
    vec![
        Decoy {
            trap: trap(
                "canary-backup-admin",
                TrapKind::IamUser,
                "svc-backup-admin".into(),
            ),
            why: "an IAM user with an access key and no permissions; plant the key where an intruder looks (CI variables, a wiki page, ~/.aws/credentials on a build host)",
        },
        Decoy {
            trap: trap(
                "canary-break-glass-role",
                TrapKind::Role,
                format!("arn:aws:iam::{account}:role/BreakGlassAdministrator"),
            ),
            why: "a role with a tempting name and no permissions; any AssumeRole of it is reconnaissance",
        },
        Decoy {
            trap: trap(
                "honeypot-payroll-table",
                TrapKind::DynamodbTable,
                "payroll-2019-archive".into(),
            ),
            why: "a DynamoDB table nobody reads (needs DynamoDB data events for item reads)",
        },
        Decoy {
            trap: trap(
                "honeypot-db-backups-bucket",
                TrapKind::S3Bucket,
                format!("db-backups-legacy-{account}"),
            ),
            why: "an S3 bucket named like old database backups (needs S3 data events for object reads)",
        },
        Decoy {
            trap: trap(
                "honeypot-credentials-prefix",
                TrapKind::S3Prefix,
                format!("db-backups-legacy-{account}/credentials/"),
            ),
            why: "a key prefix inside it that looks like leaked credentials",
        },
        Decoy {
            trap: trap(
                "honeypot-master-password",
                TrapKind::Secret,
                "prod/db/master-password".into(),
            ),
            why: "a Secrets Manager secret with a tempting name",
        },
        Decoy {
            trap: trap(
                "honeypot-root-token",
                TrapKind::SsmParameter,
                "/prod/root-api-token".into(),
            ),
            why: "an SSM parameter that looks like an API token",
        },
        Decoy {
            trap: trap(
                "honeypot-legacy-payments-key",
                TrapKind::KmsKey,
                "alias/legacy-payments".into(),
            ),
            why: "a KMS key alias for a retired payments system",
        },
        Decoy {
            trap: trap(
                "honeypot-rotate-admin-fn",
                TrapKind::LambdaFunction,
                "rotate-admin-credentials".into(),
            ),
            why: "a Lambda function whose name promises admin credentials (needs Lambda data events for Invoke)",
        },
    ]
}

const CLOUDFORMATION: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Description: trailhound decoys (canaries and honeypots). They grant nothing; any use is an alert.
Resources:
  CanaryUser:
    Type: AWS::IAM::User
    Properties:
      UserName: svc-backup-admin
      Policies:
        - PolicyName: deny-everything
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Deny
                Action: '*'
                Resource: '*'
  CanaryUserKey:
    Type: AWS::IAM::AccessKey
    Properties:
      UserName: !Ref CanaryUser
  CanaryRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: BreakGlassAdministrator
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'
            Action: sts:AssumeRole
      Policies:
        - PolicyName: deny-everything
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - Effect: Deny
                Action: '*'
                Resource: '*'
  PayrollTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: payroll-2019-archive
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: employee_id
          AttributeType: S
      KeySchema:
        - AttributeName: employee_id
          KeyType: HASH
  BackupsBucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub 'db-backups-legacy-${AWS::AccountId}'
      PublicAccessBlockConfiguration:
        BlockPublicAcls: true
        BlockPublicPolicy: true
        IgnorePublicAcls: true
        RestrictPublicBuckets: true
  MasterPasswordSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      Name: prod/db/master-password
      GenerateSecretString:
        PasswordLength: 32
  RootTokenParameter:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /prod/root-api-token
      Type: String
      Value: decoy-not-a-real-token
  LegacyPaymentsKey:
    Type: AWS::KMS::Key
    Properties:
      Description: legacy payments (decoy)
      KeyPolicy:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Sub 'arn:aws:iam::${AWS::AccountId}:root'
            Action: kms:*
            Resource: '*'
  LegacyPaymentsAlias:
    Type: AWS::KMS::Alias
    Properties:
      AliasName: alias/legacy-payments
      TargetKeyId: !Ref LegacyPaymentsKey
  RotateAdminFunctionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal:
              Service: lambda.amazonaws.com
            Action: sts:AssumeRole
  RotateAdminFunction:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: rotate-admin-credentials
      Runtime: python3.12
      Handler: index.handler
      Role: !GetAtt RotateAdminFunctionRole.Arn
      Code:
        ZipFile: |
          def handler(event, context):
              return {"status": "ok"}
"#;

#[derive(Serialize)]
struct TrapsSection<'a> {
    traps: &'a TrapsConfig,
}

/// The full plan text.
///
/// # Errors
/// The suggested traps do not compile or cannot be rendered (a bug).
pub fn plan(account: &str, region: &str) -> anyhow::Result<String> {
    let decoys = decoys(account);
    let mut out = String::new();
    writeln!(
        out,
        "# trailhound traps plan for account {account}, region {region}\n#"
    )?;
    writeln!(
        out,
        "# Suggested decoys (nothing legitimate ever uses them, so any event on them is an alert):"
    )?;
    for d in &decoys {
        writeln!(
            out,
            "#   {:<28} {:<15} {}\n#       {}",
            d.trap.name,
            d.trap.kind.as_str(),
            d.trap.value,
            d.why
        )?;
    }
    writeln!(
        out,
        "#\n# Item reads, object reads and Invoke are data events: enable them on your trail for the"
    )?;
    writeln!(
        out,
        "# decoy table, bucket and function, or only management calls on them are seen.\n"
    )?;
    writeln!(out, "# ---- 1. CloudFormation (save as decoys.yaml) ----")?;
    out.push_str(CLOUDFORMATION);
    writeln!(out, "\n# ---- 2. Or with the AWS CLI ----")?;
    let commands = [
        "aws iam create-user --user-name svc-backup-admin".to_owned(),
        "aws iam put-user-policy --user-name svc-backup-admin --policy-name deny-everything --policy-document '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}]}'".to_owned(),
        "aws iam create-access-key --user-name svc-backup-admin   # plant this key; keep its id for the config".to_owned(),
        format!("aws iam create-role --role-name BreakGlassAdministrator --assume-role-policy-document '{{\"Version\":\"2012-10-17\",\"Statement\":[{{\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{account}:root\"}},\"Action\":\"sts:AssumeRole\"}}]}}'"),
        "aws iam put-role-policy --role-name BreakGlassAdministrator --policy-name deny-everything --policy-document '{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}]}'".to_owned(),
        format!("aws dynamodb create-table --region {region} --table-name payroll-2019-archive --billing-mode PAY_PER_REQUEST --attribute-definitions AttributeName=employee_id,AttributeType=S --key-schema AttributeName=employee_id,KeyType=HASH"),
        format!("aws s3api create-bucket --region {region} --bucket db-backups-legacy-{account}{}", if region == "us-east-1" { String::new() } else { format!(" --create-bucket-configuration LocationConstraint={region}") }),
        format!("aws s3api put-object --bucket db-backups-legacy-{account} --key credentials/aws-admin.csv --body /dev/null"),
        format!("aws secretsmanager create-secret --region {region} --name prod/db/master-password --secret-string \"$(openssl rand -hex 16)\""),
        format!("aws ssm put-parameter --region {region} --name /prod/root-api-token --type SecureString --value \"$(openssl rand -hex 16)\""),
        format!("aws kms create-alias --region {region} --alias-name alias/legacy-payments --target-key-id \"$(aws kms create-key --region {region} --description 'legacy payments (decoy)' --query KeyMetadata.KeyId --output text)\""),
        "# Lambda: deploy the RotateAdminFunction of the template above (a function needs a role and code).".to_owned(),
    ];
    for c in &commands {
        writeln!(out, "{c}")?;
    }
    writeln!(
        out,
        "\n# ---- 3. trailhound config (add to your config file) ----"
    )?;
    let config = TrapsConfig {
        traps: decoys.iter().map(|d| d.trap.clone()).collect(),
    };
    config
        .build()
        .context("the suggested traps do not compile")?;
    let toml_text = toml::to_string(&TrapsSection { traps: &config })
        .context("cannot render the traps as TOML")?;
    out.push_str(&toml_text);
    writeln!(
        out,
        "# Add the planted access key too:\n# [[traps.traps]]\n# name = \"canary-backup-admin-key\"\n# kind = \"access-key\"\n# value = \"AKIA…\""
    )?;
    Ok(out)
}

/// Runs `trailhound traps`.
///
/// # Errors
/// Writing to stdout fails.
pub fn run(args: &TrapsArgs) -> anyhow::Result<u8> {
    match &args.action {
        TrapsAction::Plan(plan_args) => {
            anyhow::ensure!(
                plan_args.account.len() == 12
                    && plan_args.account.bytes().all(|b| b.is_ascii_digit()),
                "--account takes a 12-digit account id"
            );
            let text = plan(&plan_args.account, &plan_args.region)?;
            std::io::stdout().lock().write_all(text.as_bytes())?;
        }
    }
    Ok(crate::EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_is_consistent() {
        let text = plan("111122223333", "eu-west-1").unwrap();
        assert!(text.contains("db-backups-legacy-111122223333"));
        assert!(text.contains("LocationConstraint=eu-west-1"));
        // the config part parses as a traps section and names every decoy
        let config_part = text
            .split("# ---- 3. trailhound config (add to your config file) ----\n")
            .nth(1)
            .unwrap();
        #[derive(serde::Deserialize)]
        struct Section {
            traps: TrapsConfig,
        }
        let section: Section = toml::from_str(config_part).unwrap();
        assert_eq!(section.traps.traps.len(), 9);
        // every CloudFormation resource name in the template is one of the decoys' values
        for value in [
            "svc-backup-admin",
            "BreakGlassAdministrator",
            "payroll-2019-archive",
            "prod/db/master-password",
            "/prod/root-api-token",
            "alias/legacy-payments",
            "rotate-admin-credentials",
        ] {
            assert!(CLOUDFORMATION.contains(value), "{value}");
        }
    }
}

//! Inflate + decode throughput (events/s) over an in-memory gzip of realistic records.

use std::io::Write;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trailhound_ingest::{IngestOptions, ObjectClass, Scratch, decode_object};

const NAMES: [(&str, &str); 6] = [
    ("s3.amazonaws.com", "GetObject"),
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("iam.amazonaws.com", "ListRoles"),
    ("kms.amazonaws.com", "Decrypt"),
    ("lambda.amazonaws.com", "Invoke"),
];

/// A realistic role-session record of about 1.7 KB.
fn record(i: usize) -> String {
    let (source, name) = NAMES[i % NAMES.len()];
    format!(
        r#"{{"eventVersion":"1.09","userIdentity":{{"type":"AssumedRole","principalId":"AROAEXAMPLEID{r}:session-{s}","arn":"arn:aws:sts::123456789012:assumed-role/app-role-{r}/session-{s}","accountId":"123456789012","accessKeyId":"ASIAEXAMPLE{i:08}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLEID{r}","arn":"arn:aws:iam::123456789012:role/app-role-{r}","accountId":"123456789012","userName":"app-role-{r}"}},"attributes":{{"creationDate":"2026-01-15T09:00:00Z","mfaAuthenticated":"false"}},"ec2RoleDelivery":"2.0"}}}},"eventTime":"2026-01-15T10:{m:02}:{sec:02}Z","eventSource":"{source}","eventName":"{name}","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.{ip}","userAgent":"aws-sdk-java/2.25.10 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.10 Java/17.0.10 vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard","requestParameters":{{"bucketName":"example-data-{r}","key":"reports/2026/01/15/part-{i:06}.parquet","Host":"example-data-{r}.s3.us-east-1.amazonaws.com","x-id":"GetObject"}},"responseElements":null,"additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"EXAMPLEexampleEXAMPLEexampleEXAMPLEexample=","bytesTransferredOut":52311}},"requestID":"EXAMPLE{i:012}","eventID":"8f2b{i:08}-1c2d-4e5f-8a9b-0c1d2e3f4a5b","readOnly":true,"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::example-data-{r}/reports/2026/01/15/part-{i:06}.parquet"}},{{"accountId":"123456789012","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::example-data-{r}"}}],"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"123456789012","eventCategory":"Data","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"example-data-{r}.s3.us-east-1.amazonaws.com"}}}}"#,
        r = i % 17,
        s = i % 101,
        m = (i / 60) % 60,
        sec = i % 60,
        ip = i % 250 + 1,
    )
}

fn gzip_file(records: usize) -> Vec<u8> {
    let body: Vec<String> = (0..records).map(record).collect();
    let text = format!(r#"{{"Records":[{}]}}"#, body.join(","));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(text.as_bytes()).unwrap_or_default();
    enc.finish().unwrap_or_default()
}

fn decode(c: &mut Criterion) {
    const RECORDS: usize = 1000;
    let data = gzip_file(RECORDS);
    let source: Arc<str> = Arc::from("bench.json.gz");
    let options = IngestOptions::default();
    let mut scratch = Scratch::default();
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(RECORDS as u64));
    group.bench_function("inflate_and_decode_records_gz", |b| {
        b.iter(|| {
            let decoded = decode_object(&source, ObjectClass::Log, &data, &options, &mut scratch);
            assert_eq!(decoded.events.len(), RECORDS);
            decoded
        });
    });
    // The record decoder alone (trailhound-core), on the same records already split.
    let raws: Vec<String> = (0..RECORDS).map(record).collect();
    group.bench_function("event_from_json_only", |b| {
        b.iter(|| {
            raws.iter()
                .filter_map(|raw| {
                    trailhound_core::Event::from_json(
                        raw.as_str(),
                        trailhound_core::Origin::new(Arc::clone(&source), 0),
                    )
                    .ok()
                })
                .count()
        });
    });
    // What `decode_object` does with a single-member object: libdeflate, whole.
    let mut whole = trailhound_ingest::WholeInflater::default();
    let mut out = Vec::new();
    group.bench_function("inflate_whole", |b| {
        b.iter(|| whole.inflate(&data, 1 << 30, &mut out));
    });
    // The streaming decoder (multi-member, truncated or corrupt objects).
    let mut inflated = Vec::new();
    group.bench_function("inflate_only", |b| {
        b.iter(|| {
            trailhound_ingest::inflate_into(&data, 1 << 30, &mut inflated).map(|()| inflated.len())
        });
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);

//! Building the AWS SDK clients once per process.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;

/// Loads the SDK configuration. With an `endpoint` (a DynamoDB/SQS-protocol server on loopback)
/// the region and placeholder credentials are fixed, so no AWS account is needed.
pub async fn sdk_config(endpoint: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(ep) = endpoint {
        loader = loader
            .endpoint_url(ep)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "atlas-local"));
    }
    loader.load().await
}

pub fn dynamo_client(conf: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(conf)
}

pub fn sqs_client(conf: &SdkConfig) -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(conf)
}

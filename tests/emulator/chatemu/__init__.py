"""A local stand-in for the AWS and GitHub APIs that chatctl talks to.

moto's server answers IAM, STS, API Gateway (v1 and v2), Lambda, DynamoDB and
CloudWatch Logs; this package wraps it in-process, fills the gaps chatctl hits,
adds fakes of Amplify and of GitHub's hooks/keys API, and puts a control API in
front of everything (call log, fault injection, latency, reset).
"""

"""Reports the S3 Object Lock retention of every object version under a prefix, through boto3
(which moto[server] installs) and HeadObject, as an outside auditor would see it.

Usage: s3_retention.py ENDPOINT BUCKET PREFIX  (credentials from AWS_* environment variables)

Prints one JSON list: [{"key", "version", "latest", "mode", "until_ms"}], where mode and
until_ms are null for a version without retention. Deleted versions are listed too (delete
markers are not).
"""

import json
import sys

import boto3


def main():
    endpoint, bucket, prefix = sys.argv[1:4]
    s3 = boto3.client("s3", endpoint_url=endpoint)
    out = []
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for version in page.get("Versions", []):
            key, version_id = version["Key"], version["VersionId"]
            # HeadObject reports a version's retention (x-amz-object-lock-mode and
            # -retain-until-date); moto 5 does not implement GetObjectRetention.
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=version_id)
            mode = head.get("ObjectLockMode")
            until = head.get("ObjectLockRetainUntilDate")
            until_ms = int(until.timestamp() * 1000) if until is not None else None
            out.append(
                {
                    "key": key,
                    "version": version_id,
                    "latest": version["IsLatest"],
                    "mode": mode,
                    "until_ms": until_ms,
                }
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""A stateful fake of the AWS Amplify control-plane API (restJson1).

moto has no Amplify. Operations are resolved from botocore's Amplify model, so
URIs and operation names are exactly the SDK's.

Connecting a GitHub repository (CreateApp, or UpdateApp with a repository or a
token) behaves towards GitHub as AWS documents it, per token field:

- `accessToken`, the Amplify GitHub App (API reference, CreateApp: "used to
  authorize access to a GitHub repository using the Amplify GitHub App"; user
  guide, "Setting up the Amplify GitHub App for AWS CloudFormation, CLI, and SDK
  deployments": install the App `aws-amplify-REGION` first, then a personal access
  token with `admin:repo_hook`). The App must be installed on the repository;
  Amplify installs the region's webhook with the token and clones through the App
  (`repositoryCloneMethod` TOKEN): no deploy key.
- `oauthToken`, legacy OAuth (API reference: "used to create a webhook and a
  read-only deploy key using SSH cloning"): the region's webhook and a read-only
  deploy key for the app (`repositoryCloneMethod` SSH).

Either way there is one webhook per repository and Region, shared by every app of
that Region (user guide, "Unified webhooks for Git repositories": "Amplify now uses
a single webhook per Region for all associated apps in your repository"). The token
is not stored ("The token is not stored"), CreateBranch touches no repository, and
deleting a branch or an app removes neither the hook nor the key (what users report:
aws-amplify/amplify-hosting#840, #1457; nothing documents a removal).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import string
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from .control import CONTROL
from .errors import Response, aws_error
from .github import GITHUB, GitHubError, random_ssh_key
from .ops import RESOLVER

ACCOUNT = "123456789012"
SETUP_FAILED = "There was an issue setting up your repository. Please try again later."
NO_TOKEN = "You should at least provide one valid token"
AMPLIFY_HOOK_HOST_SUFFIX = ".amazonaws.com/prod/github"


class AmplifyError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found(message: str) -> AmplifyError:
    return AmplifyError(404, "NotFoundException", message)


def bad_request(message: str) -> AmplifyError:
    return AmplifyError(400, "BadRequestException", message)


def webhook_url(region: str) -> str:
    """The unified GitHub webhook of a Region. AWS documents no URL; users saw Amplify's
    hooks at `https://{id}.execute-api.{region}.amazonaws.com/prod/github`
    (aws-amplify/amplify-hosting#840), so the fake uses that form, fixed per Region."""
    digest = hashlib.sha256(f"amplify-github-webhook-{region}".encode()).hexdigest()
    alphabet = string.ascii_lowercase + string.digits
    host_id = "".join(alphabet[int(digest[i : i + 2], 16) % len(alphabet)] for i in range(0, 20, 2))
    return f"https://{host_id}.execute-api.{region}.amazonaws.com/prod/github"


def deploy_key_title(app_id: str) -> str:
    """AWS documents no title for the deploy key; the fake names the app in it."""
    return f"AWS Amplify deploy key for app {app_id}"


GITHUB_APP = "aws-amplify-{region}"
HOOK_DOCS = "https://docs.github.com/rest/repos/webhooks#create-a-repository-webhook"
KEY_DOCS = "https://docs.github.com/rest/deploy-keys/deploy-keys#create-a-deploy-key"


def setup_failed(github: GitHubError | None = None, docs: str = HOOK_DOCS) -> AmplifyError:
    """Amplify relays GitHub's answer after its own sentence, as in
    hashicorp/terraform-provider-aws#36071 and aws-amplify/amplify-hosting#2160:
    `There was an issue setting up your repository. Please try again later.({"message":
    "Not Found","documentation_url":"https://docs.github.com/rest/repos/webhooks#…"})`."""
    if github is None:
        return bad_request(SETUP_FAILED)
    relayed = json.dumps({"message": github.message, "documentation_url": docs}, separators=(",", ":"))
    return bad_request(f"{SETUP_FAILED}({relayed})")


@dataclass
class Job:
    job_id: str
    arn: str
    job_type: str
    start: float
    duration: float
    final_status: str
    commit_id: str
    commit_message: str
    commit_time: float
    wall_start: float

    def status(self, now: float) -> str:
        elapsed = now - self.start
        if elapsed >= self.duration:
            return self.final_status
        if elapsed >= self.duration / 2:
            return "RUNNING"
        return "PENDING"

    def summary(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {
            "jobArn": self.arn,
            "jobId": self.job_id,
            "commitId": self.commit_id,
            "commitMessage": self.commit_message,
            "commitTime": self.commit_time,
            "startTime": self.wall_start,
            "status": status,
            "jobType": self.job_type,
        }
        if status not in ("PENDING", "RUNNING"):
            out["endTime"] = self.wall_start + self.duration
        return out

    def steps(self, now: float) -> list[dict[str, Any]]:
        names = ["BUILD", "DEPLOY", "VERIFY"]
        elapsed = now - self.start
        out = []
        for i, name in enumerate(names):
            begin = self.duration * i / len(names)
            end = self.duration * (i + 1) / len(names)
            if elapsed >= end or self.duration == 0:
                status = self.final_status if i == len(names) - 1 or self.final_status == "SUCCEED" else "SUCCEED"
            elif elapsed >= begin:
                status = "RUNNING"
            else:
                status = "PENDING"
            out.append({
                "stepName": name,
                "startTime": self.wall_start + begin,
                "endTime": self.wall_start + end,
                "status": status,
                "logUrl": f"https://amplify-logs.invalid/{self.arn}/{name}",
            })
        return out


@dataclass
class Branch:
    name: str
    arn: str
    data: dict[str, Any]
    tags: dict[str, str]
    created: float
    updated: float
    jobs: list[Job] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.data)
        out.update({
            "branchArn": self.arn,
            "branchName": self.name,
            "createTime": self.created,
            "updateTime": self.updated,
            "activeJobId": self.jobs[-1].job_id if self.jobs else "0",
            "totalNumberOfJobs": str(len(self.jobs)),
            "tags": dict(self.tags),
        })
        return out


@dataclass
class App:
    app_id: str
    arn: str
    region: str
    data: dict[str, Any]
    tags: dict[str, str]
    created: float
    updated: float
    deploy_key_id: int | None = None
    branches: dict[str, Branch] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = dict(self.data)
        out.update({
            "appId": self.app_id,
            "appArn": self.arn,
            "defaultDomain": f"{self.app_id}.amplifyapp.com",
            "createTime": self.created,
            "updateTime": self.updated,
            "tags": dict(self.tags),
        })
        prod = next((b for b in self.branches.values() if b.data.get("stage") == "PRODUCTION"), None)
        if prod is not None:
            pb: dict[str, Any] = {"branchName": prod.name}
            if prod.jobs:
                now = time.monotonic()
                pb["status"] = prod.jobs[-1].status(now)
                pb["lastDeployTime"] = prod.jobs[-1].summary(now).get("endTime", prod.jobs[-1].wall_start)
            out["productionBranch"] = pb
        return out


APP_FIELDS = {
    "name": None, "description": "", "repository": "", "platform": "WEB",
    "computeRoleArn": None, "iamServiceRoleArn": None, "environmentVariables": {},
    "enableBranchAutoBuild": False, "enableBranchAutoDeletion": False, "enableBasicAuth": False,
    "basicAuthCredentials": None, "customRules": [], "buildSpec": None, "customHeaders": None,
    "enableAutoBranchCreation": False, "autoBranchCreationPatterns": None,
    "autoBranchCreationConfig": None, "jobConfig": None, "cacheConfig": None,
}
BRANCH_FIELDS = {
    "description": "", "stage": "NONE", "framework": "", "enableNotification": False,
    "enableAutoBuild": True, "enableSkewProtection": False, "environmentVariables": {},
    "basicAuthCredentials": None, "enableBasicAuth": False, "enablePerformanceMode": False,
    "buildSpec": None, "ttl": "5", "displayName": None, "enablePullRequestPreview": False,
    "pullRequestEnvironmentName": None, "backendEnvironmentArn": None, "backend": None,
    "computeRoleArn": None,
}
PLATFORMS = {"WEB", "WEB_DYNAMIC", "WEB_COMPUTE"}
STAGES = {"PRODUCTION", "BETA", "DEVELOPMENT", "EXPERIMENTAL", "PULL_REQUEST"}
JOB_TYPES = {"RELEASE", "RETRY", "MANUAL", "WEB_HOOK"}


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def parse_github_repository(url: str) -> tuple[str, str] | None:
    parsed = urlparse(url)
    if parsed.scheme != "https" or parsed.netloc.lower() not in ("github.com", "www.github.com"):
        return None
    parts = [p for p in parsed.path.split("/") if p]
    if len(parts) != 2:
        return None
    owner, name = parts
    if name.endswith(".git"):
        name = name[:-4]
    return owner, name


class Amplify:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.apps: dict[str, App] = {}

    # --- GitHub side effects ---------------------------------------------------
    def _connect(self, app: App, repository: str, body: dict[str, Any]) -> None:
        """Connects `repository` with the request's token, as CreateApp and UpdateApp do.
        Everything is checked before anything is added, so a refusal leaves the
        repository as it was."""
        access = body.get("accessToken")
        token_secret = access or body.get("oauthToken")
        if not token_secret:
            raise bad_request(NO_TOKEN)
        coords = parse_github_repository(repository)
        token = GITHUB.token_for(token_secret)
        if coords is None or token is None:
            raise setup_failed()
        try:
            repo = GITHUB.visible_repo(token, *coords)
        except GitHubError as exc:
            raise setup_failed(exc) from exc
        if access:
            # The GitHub App flow clones through the App's installation, which the user
            # guide makes the first step ("This process requires that you first install
            # the Amplify GitHub App in your GitHub account").
            if not GITHUB.installed(GITHUB_APP.format(region=app.region), repo):
                raise setup_failed()
            with CONTROL.lock:
                clone = CONTROL.knobs.amplify_access_token_clone
        else:
            clone = "SSH"
        url = webhook_url(app.region)
        hook = next((h for h in repo.hooks.values() if h["config"].get("url") == url), None)
        needs_key = clone == "SSH" and (app.deploy_key_id is None or app.deploy_key_id not in repo.keys)
        for need, wanted, docs in (("hook_write", hook is None, HOOK_DOCS), ("key_write", needs_key, KEY_DOCS)):
            if not wanted:
                continue
            try:
                GITHUB.require(token, need)
            except GitHubError as exc:
                raise setup_failed(exc, docs) from exc
        docs = HOOK_DOCS
        try:
            if hook is None:
                GITHUB.add_hook(repo, {
                    "name": "web",
                    "active": True,
                    "events": ["push", "pull_request"],
                    "config": {
                        "url": url,
                        "content_type": "json",
                        "insecure_ssl": "0",
                        "secret": base64.b64encode(os.urandom(24)).decode(),
                    },
                })
            if needs_key:
                docs = KEY_DOCS
                key = GITHUB.add_key(repo, {
                    "title": deploy_key_title(app.app_id),
                    "key": random_ssh_key(),
                    "read_only": True,
                }, token.login, token_secret)
                app.deploy_key_id = key["id"]
        except GitHubError as exc:
            raise setup_failed(exc, docs) from exc
        app.data["repositoryCloneMethod"] = clone
        app.data["webhookCreateTime"] = time.time()

    # --- helpers ----------------------------------------------------------------
    def _app(self, app_id: str, region: str) -> App:
        app = self.apps.get(app_id)
        if app is None or app.region != region:
            raise not_found(f"App {app_id} not found.")
        return app

    def _branch(self, app: App, name: str) -> Branch:
        branch = app.branches.get(name)
        if branch is None:
            raise not_found(f"Branch {name} not found.")
        return branch

    @staticmethod
    def _paginate(items: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], str | None]:
        start = 0
        token = query.get("nextToken", [None])[0]
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token.encode()).decode())
            except (ValueError, UnicodeDecodeError) as exc:
                raise bad_request("Invalid nextToken") from exc
        limit = 100
        if "maxResults" in query:
            try:
                limit = int(query["maxResults"][0])
            except ValueError as exc:
                raise bad_request("Invalid maxResults") from exc
            if not 0 <= limit <= 100:
                raise bad_request("maxResults must be between 0 and 100")
        forced = CONTROL.knobs.page_size
        if forced:
            limit = min(limit, forced)
        page = items[start : start + limit]
        end = start + len(page)
        next_token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
        return page, next_token

    @staticmethod
    def _check_enum(value: Any, allowed: set[str], name: str) -> None:
        if value is not None and value not in allowed:
            raise bad_request(f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: Member must satisfy enum value set: {sorted(allowed)}")

    def _resource(self, arn: str) -> App | Branch:
        for app in self.apps.values():
            if app.arn == arn:
                return app
            for branch in app.branches.values():
                if branch.arn == arn:
                    return branch
        raise AmplifyError(404, "ResourceNotFoundException", f"Resource {arn} not found.")

    # --- operations -----------------------------------------------------------------
    def create_app(self, region: str, body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        name = body.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise bad_request("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must not be null")
        self._check_enum(body.get("platform"), PLATFORMS, "platform")
        repository = body.get("repository")
        app_id = "d" + "".join(random.choices(string.ascii_lowercase + string.digits, k=13))
        data = {k: body.get(k, default) for k, default in APP_FIELDS.items()}
        data["name"] = name
        now = time.time()
        app = App(
            app_id=app_id,
            arn=f"arn:aws:amplify:{region}:{ACCOUNT}:apps/{app_id}",
            region=region,
            data=_clean(data),
            tags=dict(body.get("tags") or {}),
            created=now,
            updated=now,
        )
        if repository:
            # The repository is set up when the app is created: that is where AWS
            # answers "There was an issue setting up your repository" (CreateApp in
            # hashicorp/terraform-provider-aws#36071, aws/aws-cdk#9455).
            self._connect(app, repository, body)
        self.apps[app_id] = app
        return 200, {"app": app.to_json()}

    def get_app(self, region: str, params: dict[str, str], **_: Any) -> tuple[int, Any]:
        return 200, {"app": self._app(params["appId"], region).to_json()}

    def list_apps(self, region: str, query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        apps = [a for a in self.apps.values() if a.region == region]
        page, token = self._paginate(apps, query)
        out: dict[str, Any] = {"apps": [a.to_json() for a in page]}
        if token:
            out["nextToken"] = token
        return 200, out

    def update_app(self, region: str, params: dict[str, str], body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        self._check_enum(body.get("platform"), PLATFORMS, "platform")
        token = body.get("accessToken") or body.get("oauthToken")
        repository = body.get("repository")
        if repository is not None or token is not None:
            # Reconnecting: a new repository, or a token for the current one.
            new_repo = repository if repository is not None else app.data.get("repository")
            if new_repo:
                if repository is not None and repository != app.data.get("repository"):
                    app.deploy_key_id = None
                self._connect(app, new_repo, body)
        for key in APP_FIELDS:
            if key in body and body[key] is not None:
                app.data[key] = body[key]
        app.updated = time.time()
        return 200, {"app": app.to_json()}

    def delete_app(self, region: str, params: dict[str, str], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        del self.apps[app.app_id]
        # Like the real service, the webhook and the deploy key stay on GitHub.
        return 200, {"app": app.to_json()}

    def create_branch(self, region: str, params: dict[str, str], body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        name = body.get("branchName")
        if not isinstance(name, str) or not 1 <= len(name) <= 255:
            raise bad_request("1 validation error detected: Value at 'branchName' failed to satisfy constraint: Member must not be null")
        if name in app.branches:
            raise bad_request(f"Branch {name} already exists.")
        self._check_enum(body.get("stage"), STAGES, "stage")
        data = {k: body.get(k, default) for k, default in BRANCH_FIELDS.items()}
        if not data.get("displayName"):
            data["displayName"] = name.replace("/", "-")
        data["customDomains"] = []
        now = time.time()
        branch = Branch(
            name=name,
            arn=f"{app.arn}/branches/{name}",
            data=_clean(data),
            tags=dict(body.get("tags") or {}),
            created=now,
            updated=now,
        )
        app.branches[name] = branch
        return 200, {"branch": branch.to_json()}

    def get_branch(self, region: str, params: dict[str, str], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        return 200, {"branch": self._branch(app, unquote(params["branchName"])).to_json()}

    def list_branches(self, region: str, params: dict[str, str], query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        page, token = self._paginate(list(app.branches.values()), query)
        out: dict[str, Any] = {"branches": [b.to_json() for b in page]}
        if token:
            out["nextToken"] = token
        return 200, out

    def update_branch(self, region: str, params: dict[str, str], body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        branch = self._branch(app, unquote(params["branchName"]))
        self._check_enum(body.get("stage"), STAGES, "stage")
        for key in BRANCH_FIELDS:
            if key in body and body[key] is not None:
                branch.data[key] = body[key]
        branch.updated = time.time()
        return 200, {"branch": branch.to_json()}

    def delete_branch(self, region: str, params: dict[str, str], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        branch = self._branch(app, unquote(params["branchName"]))
        del app.branches[branch.name]
        return 200, {"branch": branch.to_json()}

    def start_job(self, region: str, params: dict[str, str], body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        branch = self._branch(app, unquote(params["branchName"]))
        job_type = body.get("jobType")
        if job_type not in JOB_TYPES:
            raise bad_request("1 validation error detected: Value at 'jobType' failed to satisfy constraint: Member must satisfy enum value set: [RELEASE, RETRY, MANUAL, WEB_HOOK]")
        if job_type == "RETRY":
            if not any(j.job_id == body.get("jobId") for j in branch.jobs):
                raise not_found(f"Job {body.get('jobId')} not found.")
        if job_type in ("RELEASE", "WEB_HOOK") and not app.data.get("repository"):
            raise bad_request("Operation not supported. App is not connected to a repository.")
        job_id = str(len(branch.jobs) + 1)
        commit = body.get("commitId") or hashlib.sha1(f"{app.app_id}{branch.name}{job_id}".encode()).hexdigest()
        with CONTROL.lock:
            duration = CONTROL.knobs.amplify_job_s
            final_status = CONTROL.knobs.amplify_job_status
        now_wall = time.time()
        job = Job(
            job_id=job_id,
            arn=f"{branch.arn}/jobs/{job_id}",
            job_type=job_type,
            start=time.monotonic(),
            duration=duration,
            final_status=final_status,
            commit_id=commit,
            commit_message=body.get("commitMessage") or "HEAD",
            commit_time=float(body.get("commitTime") or now_wall),
            wall_start=now_wall,
        )
        branch.jobs.append(job)
        return 200, {"jobSummary": job.summary(time.monotonic())}

    def get_job(self, region: str, params: dict[str, str], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        branch = self._branch(app, unquote(params["branchName"]))
        job = next((j for j in branch.jobs if j.job_id == params["jobId"]), None)
        if job is None:
            raise not_found(f"Job {params['jobId']} not found.")
        now = time.monotonic()
        return 200, {"job": {"summary": job.summary(now), "steps": job.steps(now)}}

    def list_jobs(self, region: str, params: dict[str, str], query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        app = self._app(params["appId"], region)
        branch = self._branch(app, unquote(params["branchName"]))
        now = time.monotonic()
        page, token = self._paginate(list(reversed(branch.jobs)), query)
        out: dict[str, Any] = {"jobSummaries": [j.summary(now) for j in page]}
        if token:
            out["nextToken"] = token
        return 200, out

    def tag_resource(self, params: dict[str, str], body: dict[str, Any], **_: Any) -> tuple[int, Any]:
        resource = self._resource(unquote(params["resourceArn"]))
        tags = body.get("tags")
        if not isinstance(tags, dict):
            raise bad_request("tags are required")
        resource.tags.update({str(k): str(v) for k, v in tags.items()})
        return 200, {}

    def untag_resource(self, params: dict[str, str], query: dict[str, list[str]], **_: Any) -> tuple[int, Any]:
        resource = self._resource(unquote(params["resourceArn"]))
        for key in query.get("tagKeys", []):
            resource.tags.pop(key, None)
        return 200, {}

    def list_tags_for_resource(self, params: dict[str, str], **_: Any) -> tuple[int, Any]:
        resource = self._resource(unquote(params["resourceArn"]))
        return 200, {"tags": dict(resource.tags)}

    HANDLERS = {
        "CreateApp": "create_app", "GetApp": "get_app", "ListApps": "list_apps",
        "UpdateApp": "update_app", "DeleteApp": "delete_app",
        "CreateBranch": "create_branch", "GetBranch": "get_branch", "ListBranches": "list_branches",
        "UpdateBranch": "update_branch", "DeleteBranch": "delete_branch",
        "StartJob": "start_job", "GetJob": "get_job", "ListJobs": "list_jobs",
        "TagResource": "tag_resource", "UntagResource": "untag_resource",
        "ListTagsForResource": "list_tags_for_resource",
    }

    def handle(self, operation: str, region: str, method: str, raw_path: str,
               query_string: str, body: bytes) -> Response:
        query = parse_qs(query_string, keep_blank_values=True)
        name = self.HANDLERS.get(operation)
        if name is None:
            return aws_error("amplify", 501, "NotImplementedException",
                             f"{operation} is not supported by the chatctl emulator")
        _, params = RESOLVER.resolve_rest("amplify", method, raw_path, query)
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return aws_error("amplify", 400, "BadRequestException", "Request body is not valid JSON")
        if not isinstance(data, dict):
            return aws_error("amplify", 400, "BadRequestException", "Request body is not a JSON object")
        try:
            status, payload = getattr(self, name)(
                region=region, params=params, query=query, body=data
            )
        except AmplifyError as err:
            return aws_error("amplify", err.status, err.code, err.message)
        return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


AMPLIFY = Amplify()

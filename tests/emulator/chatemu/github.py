"""A stateful fake of the parts of GitHub's REST API that chatctl and Amplify use:
the authenticated user, repositories, repository webhooks, deploy keys, and which
GitHub Apps are installed on which repositories.

Shapes, status codes and pagination follow docs.github.com/en/rest (see
shared reference §8). Tokens are never echoed in responses or logs.

Tokens are classic (OAuth scopes) or fine-grained (repository permissions); every
hook and key endpoint checks what the REST reference says it needs:
- classic scopes, "Scopes for OAuth apps" (docs.github.com/en/apps/oauth-apps/
  building-oauth-apps/scopes-for-oauth-apps): `read:repo_hook` reads hooks,
  `write:repo_hook` also creates and edits them, `admin:repo_hook` also deletes them,
  `repo` covers all of that and deploy keys;
- fine-grained permissions, the "Fine-grained access tokens for …" section of each
  endpoint (docs.github.com/en/rest/repos/webhooks, /rest/deploy-keys/deploy-keys):
  "Webhooks" read / write, "Administration" read / write.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlencode

DOCS = "https://docs.github.com/rest"
HOOK_READ_SCOPES = {"repo", "admin:repo_hook", "write:repo_hook", "read:repo_hook"}
HOOK_WRITE_SCOPES = {"repo", "admin:repo_hook", "write:repo_hook"}
HOOK_DELETE_SCOPES = {"repo", "admin:repo_hook"}
KEY_SCOPES = {"repo"}
# What each hook/key operation needs: (classic scopes, fine-grained permission, level).
NEEDS: dict[str, tuple[set[str], str, str]] = {
    "hook_read": (HOOK_READ_SCOPES, "webhooks", "read"),
    "hook_write": (HOOK_WRITE_SCOPES, "webhooks", "write"),
    "hook_delete": (HOOK_DELETE_SCOPES, "webhooks", "write"),
    "key_read": (KEY_SCOPES, "administration", "read"),
    "key_write": (KEY_SCOPES, "administration", "write"),
}
PERMISSION_LEVELS = {"read": 1, "write": 2}
MAX_HOOKS_PER_REPO = 20

Response = tuple[int, list[tuple[str, str]], bytes]


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Token:
    scopes: list[str]
    login: str
    user_id: int
    repos: set[str] | None  # lower-case "owner/name" the token may see; None = all
    # Fine-grained tokens carry repository permissions ("webhooks": "write", …) instead
    # of scopes; None for a classic token.
    permissions: dict[str, str] | None = None
    used: int = 0

    @property
    def fine_grained(self) -> bool:
        return self.permissions is not None

    def allows(self, need: str) -> bool:
        scopes, permission, level = NEEDS[need]
        if self.permissions is None:
            return bool(scopes & set(self.scopes))
        granted = PERMISSION_LEVELS.get(self.permissions.get(permission, ""), 0)
        return granted >= PERMISSION_LEVELS[level]


@dataclass
class Repo:
    id: int
    owner: str
    name: str
    private: bool
    default_branch: str
    created_at: str
    hooks: dict[int, dict[str, Any]] = field(default_factory=dict)
    hook_secrets: dict[int, str] = field(default_factory=dict)
    keys: dict[int, dict[str, Any]] = field(default_factory=dict)
    # key id -> the token that created it (never serialised): GitHub deletes a deploy key
    # when the personal access token that created it is deleted.
    key_tokens: dict[int, str] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class GitHubError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None,
                 errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.errors = errors


ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), t)
    for m, p, t in [
        ("GET", r"^/user/?$", "GET /user"),
        ("GET", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/?$", "GET /repos/{owner}/{repo}"),
        ("GET", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/hooks/?$", "GET /repos/{owner}/{repo}/hooks"),
        ("POST", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/hooks/?$", "POST /repos/{owner}/{repo}/hooks"),
        ("GET", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/hooks/(?P<id>[^/]+)/?$", "GET /repos/{owner}/{repo}/hooks/{hook_id}"),
        ("PATCH", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/hooks/(?P<id>[^/]+)/?$", "PATCH /repos/{owner}/{repo}/hooks/{hook_id}"),
        ("DELETE", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/hooks/(?P<id>[^/]+)/?$", "DELETE /repos/{owner}/{repo}/hooks/{hook_id}"),
        ("GET", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/keys/?$", "GET /repos/{owner}/{repo}/keys"),
        ("POST", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/keys/?$", "POST /repos/{owner}/{repo}/keys"),
        ("GET", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/keys/(?P<id>[^/]+)/?$", "GET /repos/{owner}/{repo}/keys/{key_id}"),
        ("DELETE", r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/keys/(?P<id>[^/]+)/?$", "DELETE /repos/{owner}/{repo}/keys/{key_id}"),
    ]
]


def route(method: str, path: str) -> tuple[str, dict[str, str]]:
    """The operation name ("GET /repos/{owner}/{repo}/hooks") and path parameters."""
    for m, pattern, template in ROUTES:
        match = pattern.match(path)
        if match and m == method:
            return template, match.groupdict()
    return f"{method} {path}", {}


def random_ssh_key() -> str:
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + os.urandom(32)
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


class GitHub:
    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.tokens: dict[str, Token] = {}
        # (app slug, lower-case owner) -> lower-case repository names, or None for "All
        # repositories" (GitHub's two choices when an App is installed on an account).
        self.installations: dict[tuple[str, str], set[str] | None] = {}
        self.next_id = 1

    def _id(self) -> int:
        value = self.next_id
        self.next_id += 1
        return value

    # --- control ----------------------------------------------------------
    def create_repo(self, spec: dict[str, Any], base: str) -> dict[str, Any]:
        owner = spec.get("owner")
        name = spec.get("name")
        if not isinstance(owner, str) or not isinstance(name, str) or not owner or not name:
            raise GitHubError(422, "owner and name are required")
        key = f"{owner}/{name}".lower()
        if key in self.repos:
            raise GitHubError(422, "Repository creation failed.",
                              errors=[{"resource": "Repository", "code": "custom", "field": "name",
                                       "message": "name already exists on this account"}])
        repo = Repo(
            id=self._id() + 100000,
            owner=owner,
            name=name,
            private=bool(spec.get("private", False)),
            default_branch=str(spec.get("default_branch", "main")),
            created_at=now_iso(),
        )
        self.repos[key] = repo
        return self.repo_json(repo, base, None)

    def register_token(self, spec: dict[str, Any]) -> dict[str, Any]:
        token = spec.get("token")
        scopes = spec.get("scopes", [])
        permissions = spec.get("permissions")
        if not isinstance(token, str) or not token:
            raise GitHubError(422, "token is required")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise GitHubError(422, "scopes must be a list of strings")
        if permissions is not None:
            if scopes:
                raise GitHubError(422, "a token has scopes (classic) or permissions (fine-grained), not both")
            if not isinstance(permissions, dict) or not all(
                isinstance(k, str) and v in PERMISSION_LEVELS for k, v in permissions.items()
            ):
                raise GitHubError(422, "permissions must map permission names to \"read\" or \"write\"")
        repos = spec.get("repos")
        if repos is not None and (not isinstance(repos, list) or not all(isinstance(r, str) for r in repos)):
            raise GitHubError(422, "repos must be a list of \"owner/name\" strings")
        login = str(spec.get("login", "emulator-user"))
        self.tokens[token] = Token(
            scopes=list(scopes),
            login=login,
            user_id=self._id() + 5000,
            repos={r.lower() for r in repos} if repos is not None else None,
            permissions=dict(permissions) if permissions is not None else None,
        )
        return {"login": login, "scopes": list(scopes), "permissions": permissions, "repos": repos}

    def revoke_token(self, token: str) -> bool:
        """Deletes a token. GitHub ("REST API endpoints for deploy keys"): "If the deploy
        key is created with a personal access token, deleting the personal access token
        will also delete the deploy key"."""
        if self.tokens.pop(token, None) is None:
            return False
        for repo in self.repos.values():
            for key_id in [k for k, t in repo.key_tokens.items() if t == token]:
                repo.keys.pop(key_id, None)
                repo.key_tokens.pop(key_id, None)
        return True

    def install_app(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Installs a GitHub App (e.g. `aws-amplify-eu-west-1`) on an account, for all of
        its repositories or only the named ones."""
        app = spec.get("app")
        owner = spec.get("owner")
        repos = spec.get("repos")
        if not isinstance(app, str) or not app or not isinstance(owner, str) or not owner:
            raise GitHubError(422, "app and owner are required")
        if repos is not None and (not isinstance(repos, list) or not all(isinstance(r, str) for r in repos)):
            raise GitHubError(422, "repos must be a list of repository names")
        self.installations[(app, owner.lower())] = {r.lower() for r in repos} if repos is not None else None
        return {"app": app, "owner": owner, "repos": repos}

    def uninstall_app(self, app: str, owner: str) -> bool:
        return self.installations.pop((app, owner.lower()), False) is not False

    def installed(self, app: str, repo: Repo) -> bool:
        key = (app, repo.owner.lower())
        if key not in self.installations:
            return False
        selected = self.installations[key]
        return selected is None or repo.name.lower() in selected

    def repo_state(self, owner: str, name: str, base: str) -> dict[str, Any]:
        repo = self.repos.get(f"{owner}/{name}".lower())
        if repo is None:
            raise GitHubError(404, "Not Found")
        return {
            "repo": self.repo_json(repo, base, None),
            "hooks": [self.hook_json(repo, h, base) for h in repo.hooks.values()],
            "keys": [self.key_json(repo, k, base) for k in repo.keys.values()],
            "installations": sorted(app for (app, _) in self.installations if self.installed(app, repo)),
        }

    # --- authorisation ------------------------------------------------------
    def authenticate(self, authorization: str | None) -> tuple[Token, str]:
        """The token of an `Authorization` header, and its secret."""
        if not authorization:
            raise GitHubError(401, "Requires authentication")
        parts = authorization.split(None, 1)
        if len(parts) != 2 or parts[0].lower() not in ("token", "bearer"):
            raise GitHubError(401, "Bad credentials")
        secret = parts[1].strip()
        token = self.tokens.get(secret)
        if token is None:
            raise GitHubError(401, "Bad credentials")
        token.used += 1
        return token, secret

    def token_for(self, secret: str) -> Token | None:
        return self.tokens.get(secret)

    def visible_repo(self, token: Token, owner: str, name: str) -> Repo:
        key = f"{owner}/{name}".lower()
        repo = self.repos.get(key)
        if repo is None or (token.repos is not None and key not in token.repos):
            raise GitHubError(404, "Not Found")
        return repo

    @staticmethod
    def require(token: Token, need: str) -> None:
        """403 when the token lacks what `need` (a key of NEEDS) takes, with the header
        GitHub uses to say what would do: `X-Accepted-OAuth-Scopes` for classic tokens,
        `X-Accepted-GitHub-Permissions` for fine-grained ones (GitHub changelog
        2023-08-10, "X-Accepted-GitHub-Permissions header for fine-grained permission
        actors")."""
        if token.allows(need):
            return
        scopes, permission, level = NEEDS[need]
        header = (
            {"X-Accepted-GitHub-Permissions": f"{permission}={level}"}
            if token.fine_grained
            else {"X-Accepted-OAuth-Scopes": ", ".join(sorted(scopes))}
        )
        raise GitHubError(403, "Resource not accessible by personal access token", headers=header)

    # --- JSON shapes ------------------------------------------------------------
    def user_json(self, token: Token, base: str) -> dict[str, Any]:
        return {
            "login": token.login,
            "id": token.user_id,
            "node_id": base64.b64encode(f"04:User{token.user_id}".encode()).decode(),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{token.user_id}?v=4",
            "url": f"{base}/users/{token.login}",
            "html_url": f"https://github.com/{token.login}",
            "type": "User",
            "site_admin": False,
            "name": token.login,
        }

    def repo_json(self, repo: Repo, base: str, token: Token | None) -> dict[str, Any]:
        can_admin = token is None or token.allows("key_write")
        return {
            "id": repo.id,
            "node_id": base64.b64encode(f"010:Repository{repo.id}".encode()).decode(),
            "name": repo.name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": {"login": repo.owner, "id": repo.id + 1, "type": "User",
                      "url": f"{base}/users/{repo.owner}", "html_url": f"https://github.com/{repo.owner}"},
            "html_url": f"https://github.com/{repo.full_name}",
            "description": None,
            "fork": False,
            "url": f"{base}/repos/{repo.full_name}",
            "hooks_url": f"{base}/repos/{repo.full_name}/hooks",
            "keys_url": f"{base}/repos/{repo.full_name}/keys{{/key_id}}",
            "clone_url": f"https://github.com/{repo.full_name}.git",
            "ssh_url": f"git@github.com:{repo.full_name}.git",
            "default_branch": repo.default_branch,
            "visibility": "private" if repo.private else "public",
            "created_at": repo.created_at,
            "updated_at": repo.created_at,
            "pushed_at": repo.created_at,
            "permissions": {"admin": can_admin, "maintain": can_admin, "push": can_admin,
                            "triage": True, "pull": True},
        }

    def hook_json(self, repo: Repo, hook: dict[str, Any], base: str) -> dict[str, Any]:
        url = f"{base}/repos/{repo.full_name}/hooks/{hook['id']}"
        config = dict(hook["config"])
        if hook["id"] in repo.hook_secrets:
            config["secret"] = "********"
        return {
            "type": "Repository",
            "id": hook["id"],
            "name": "web",
            "active": hook["active"],
            "events": list(hook["events"]),
            "config": config,
            "updated_at": hook["updated_at"],
            "created_at": hook["created_at"],
            "url": url,
            "test_url": f"{url}/test",
            "ping_url": f"{url}/pings",
            "deliveries_url": f"{url}/deliveries",
            "last_response": {"code": None, "status": "unused", "message": None},
        }

    def key_json(self, repo: Repo, key: dict[str, Any], base: str) -> dict[str, Any]:
        out = dict(key)
        out["url"] = f"{base}/repos/{repo.full_name}/keys/{key['id']}"
        return out

    # --- operations shared by the REST handlers and the Amplify fake --------------
    def add_hook(self, repo: Repo, body: dict[str, Any]) -> dict[str, Any]:
        config = body.get("config")
        if not isinstance(config, dict) or not config.get("url"):
            raise GitHubError(422, "Validation Failed",
                              errors=[{"resource": "Hook", "code": "custom", "message": "Config must contain url for webhook hook"}])
        url = str(config["url"])
        if any(h["config"].get("url") == url for h in repo.hooks.values()):
            raise GitHubError(422, "Validation Failed",
                              errors=[{"resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}])
        events = body.get("events", ["push"])
        if not isinstance(events, list) or not events:
            events = ["push"]
        if len(repo.hooks) >= MAX_HOOKS_PER_REPO:
            raise GitHubError(422, "Validation Failed",
                              errors=[{"resource": "Hook", "code": "custom",
                                       "message": f"The \"{events[0]}\" event cannot have more than {MAX_HOOKS_PER_REPO} hooks"}])
        stamp = now_iso()
        hook_id = self._id() + 400000000
        stored_config = {
            "content_type": str(config.get("content_type", "form")),
            "insecure_ssl": str(config.get("insecure_ssl", "0")),
            "url": url,
        }
        if config.get("secret"):
            repo.hook_secrets[hook_id] = str(config["secret"])
        hook = {
            "id": hook_id,
            "active": bool(body.get("active", True)),
            "events": [str(e) for e in events],
            "config": stored_config,
            "created_at": stamp,
            "updated_at": stamp,
        }
        repo.hooks[hook_id] = hook
        return hook

    def add_key(self, repo: Repo, body: dict[str, Any], added_by: str, token: str) -> dict[str, Any]:
        material = body.get("key")
        if not isinstance(material, str) or not material.strip():
            raise GitHubError(422, "Validation Failed",
                              errors=[{"resource": "PublicKey", "code": "missing_field", "field": "key"}])
        material = " ".join(material.split()[:2])
        if any(k["key"] == material for r in self.repos.values() for k in r.keys.values()):
            raise GitHubError(422, "Validation Failed",
                              errors=[{"resource": "PublicKey", "code": "custom", "field": "key",
                                       "message": "key is already in use"}])
        key_id = self._id() + 90000000
        key = {
            "id": key_id,
            "key": material,
            "title": str(body.get("title", "")),
            "verified": True,
            "created_at": now_iso(),
            "read_only": bool(body.get("read_only", False)),
            "added_by": added_by,
            "last_used": None,
            "enabled": True,
        }
        repo.keys[key_id] = key
        repo.key_tokens[key_id] = token
        return key

    # --- REST handler ---------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, headers: dict[str, str],
               body: bytes, base: str) -> Response:
        token: Token | None = None
        try:
            template, params = route(method, path)
            if not params and template != "GET /user":
                raise GitHubError(404, "Not Found")
            token, secret = self.authenticate(headers.get("authorization"))
            status, payload, extra = self._dispatch(template, params, token, secret, query, body, base)
        except GitHubError as err:
            payload = {"message": err.message, "documentation_url": DOCS}
            if err.errors:
                payload["errors"] = err.errors
            if err.status in (401, 403):
                payload["status"] = str(err.status)
            status = err.status
            extra = err.headers
        return self.render(status, payload, extra, token)

    def render(self, status: int, payload: Any, extra: dict[str, str] | None,
               token: Token | None) -> Response:
        out_headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("X-GitHub-Media-Type", "github.v3; format=json"),
            ("X-GitHub-Api-Version-Selected", "2022-11-28"),
            ("X-GitHub-Request-Id", uuid.uuid4().hex[:20].upper()),
        ]
        if token is not None:
            reset_at = (int(time.time()) // 3600 + 1) * 3600
            if not token.fine_grained:
                out_headers.append(("X-OAuth-Scopes", ", ".join(token.scopes)))
            out_headers += [
                ("X-RateLimit-Limit", "5000"),
                ("X-RateLimit-Remaining", str(max(0, 5000 - token.used))),
                ("X-RateLimit-Used", str(token.used)),
                ("X-RateLimit-Reset", str(reset_at)),
                ("X-RateLimit-Resource", "core"),
            ]
        for k, v in (extra or {}).items():
            out_headers.append((k, v))
        data = b"" if status == 204 else json.dumps(payload).encode()
        return status, out_headers, data

    def _dispatch(self, template: str, params: dict[str, str], token: Token, secret: str, query: str,
                  body: bytes, base: str) -> tuple[int, Any, dict[str, str]]:
        if template == "GET /user":
            return 200, self.user_json(token, base), {}
        repo = self.visible_repo(token, params["owner"], params["repo"])
        kind = "hooks" if "/hooks" in template else "keys"
        prefix = "hook" if kind == "hooks" else "key"
        method = template.split(" ", 1)[0]
        if template == "GET /repos/{owner}/{repo}":
            return 200, self.repo_json(repo, base, token), {}
        if method == "GET":
            self.require(token, f"{prefix}_read")
        elif method == "DELETE":
            self.require(token, f"{prefix}_delete" if kind == "hooks" else "key_write")
        else:
            self.require(token, f"{prefix}_write")
        if template.endswith("/hooks") or template.endswith("/keys"):
            collection = repo.hooks if kind == "hooks" else repo.keys
            if method == "GET":
                items = list(collection.values())
                render = self.hook_json if kind == "hooks" else self.key_json
                return self._page(items, query, base, f"/repos/{repo.full_name}/{kind}",
                                  lambda item: render(repo, item, base))
            data = self._json_body(body)
            if kind == "hooks":
                out = self.hook_json(repo, self.add_hook(repo, data), base)
            else:
                out = self.key_json(repo, self.add_key(repo, data, token.login, secret), base)
            return 201, out, {"Location": out["url"]}
        try:
            item_id = int(params["id"])
        except ValueError as exc:
            raise GitHubError(404, "Not Found") from exc
        if kind == "hooks":
            hook = repo.hooks.get(item_id)
            if hook is None:
                raise GitHubError(404, "Not Found")
            if method == "GET":
                return 200, self.hook_json(repo, hook, base), {}
            if method == "DELETE":
                del repo.hooks[item_id]
                repo.hook_secrets.pop(item_id, None)
                return 204, None, {}
            return 200, self._patch_hook(repo, hook, self._json_body(body), base), {}
        key = repo.keys.get(item_id)
        if key is None:
            raise GitHubError(404, "Not Found")
        if method == "GET":
            return 200, self.key_json(repo, key, base), {}
        del repo.keys[item_id]
        repo.key_tokens.pop(item_id, None)
        return 204, None, {}

    def _patch_hook(self, repo: Repo, hook: dict[str, Any], data: dict[str, Any], base: str) -> dict[str, Any]:
        if isinstance(data.get("config"), dict):
            config = data["config"]
            url = config.get("url", hook["config"]["url"])
            if url != hook["config"]["url"] and any(
                h["config"].get("url") == url for h in repo.hooks.values()
            ):
                raise GitHubError(422, "Validation Failed",
                                  errors=[{"resource": "Hook", "code": "custom", "message": "Hook already exists on this repository"}])
            for field_name in ("url", "content_type", "insecure_ssl"):
                if field_name in config:
                    hook["config"][field_name] = str(config[field_name])
            if config.get("secret"):
                repo.hook_secrets[hook["id"]] = str(config["secret"])
        if isinstance(data.get("events"), list):
            hook["events"] = [str(e) for e in data["events"]]
        for e in data.get("add_events", []) or []:
            if e not in hook["events"]:
                hook["events"].append(str(e))
        for e in data.get("remove_events", []) or []:
            if e in hook["events"]:
                hook["events"].remove(e)
        if "active" in data:
            hook["active"] = bool(data["active"])
        hook["updated_at"] = now_iso()
        return self.hook_json(repo, hook, base)

    @staticmethod
    def _json_body(body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except ValueError as exc:
            raise GitHubError(400, "Problems parsing JSON") from exc
        if not isinstance(data, dict):
            raise GitHubError(400, "Problems parsing JSON")
        return data

    def _page(self, items: list[Any], query: str, base: str, path: str,
              render: Any) -> tuple[int, Any, dict[str, str]]:
        params = parse_qs(query)

        def int_param(name: str, default: int) -> int:
            try:
                return int(params.get(name, [str(default)])[0])
            except ValueError:
                return default

        per_page = min(max(int_param("per_page", 30), 1), 100)
        page = max(int_param("page", 1), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        def link(p: int, rel: str) -> str:
            return f'<{base}{path}?{urlencode({"per_page": per_page, "page": p})}>; rel="{rel}"'

        links = []
        if page > 1:
            links.append(link(page - 1, "prev"))
        if page < last:
            links.append(link(page + 1, "next"))
            links.append(link(last, "last"))
        if page > 1:
            links.append(link(1, "first"))
        extra = {"Link": ", ".join(links)} if links else {}
        return 200, [render(item) for item in chunk], extra


GITHUB = GitHub()

"""IAM extension: every API request is authenticated and authorized against its caller's policies, as on AWS.

What it does
- moto authenticates each request (`INITIAL_NO_AUTH_ACTION_COUNT = 0`): the caller is named by its access key
  (and a session's token): an IAM user, an assumed-role session (STS `AssumeRole`) or the workbench's admin
  (config.LOCAL_ACCESS_KEY: provisioning, tests, the notebooks and the CLI keep full rights, as an account's
  administrator does).
- moto's evaluator is replaced here (`evaluate`): it ignores conditions it does not know (`StringLike` passed
  everything, so `s3:prefix` never narrowed a listing), reads a failed condition as an explicit Deny, and checks most
  services against the resource "*" (so no ARN-scoped statement ever matched DynamoDB, Glue, Logs or Secrets
  Manager). This one follows AWS's documented logic for identity-based policies: an explicit Deny wins, then any
  Allow, else an implicit deny; `Action` / `NotAction` (case-insensitive), `Resource` / `NotResource` with `*` and
  `?` wildcards anywhere in the ARN (a path too); conditions `StringEquals`, `StringNotEquals`,
  `StringEqualsIgnoreCase`, `StringLike`, `StringNotLike`, `ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike`,
  `Bool`, `Null`, each with `...IfExists` and the `ForAnyValue:` / `ForAllValues:` set operators. A condition
  operator it does not know makes the statement not apply (fail closed) and is logged. The request's resource ARN
  and condition keys come from the request (`request_context`): the S3 object or bucket, the DynamoDB table or
  index, the Glue job, the log stream, the secret, the queue or topic, `s3:prefix`, `cloudwatch:namespace`.
- A GET or HEAD of a missing key by a caller without s3:ListBucket on the bucket (with `s3:prefix` = the key) is
  denied (403), as S3 does, instead of answering 404.
- A denied request gets AWS's error: `AccessDenied` (S3, STS, SNS, SQS) or `AccessDeniedException` (DynamoDB, Glue,
  Logs, Secrets Manager, Lambda, CloudWatch), with AWS's message ("User: <arn> is not authorized to perform:
  <action> on resource: <arn> because no identity-based policy allows the <action> action").
- Every decision is counted by principal and outcome (`GET /_c360/status` under "iam"); every denial is printed on
  the emulator's log and appended to `<state>/iam/denied.jsonl`.
- The Lambda and Glue runners assume their function's or job's role as the service does (`assume_role`: the
  role's trust policy must name the service principal) and hand the child the temporary credentials.

How it differs from AWS
- Signatures are not verified (moto's recomputation rejects valid Lambda and S3 requests whose paths hold encoded
  characters); an unknown access key or a wrong session token is still refused (InvalidClientTokenId).
- Identity-based policies only (inline and attached, of users and roles); no resource-based policies (bucket
  policies, the Lambda's own permission), permission boundaries, SCPs or session policies. Requests by the admin
  key are not evaluated.
- Condition keys: only those above, plus `aws:PrincipalArn` and `aws:SecureTransport`; policy variables
  (`${aws:username}`) are not substituted.
- Work that AWS services do with a role and the emulator does inside itself (S3 notifications, EventBridge
  targets) is not checked; what the Lambda and Glue runners do on the role's behalf is (logs, dead letters, the
  script and the job's S3 reads and writes: see lambda_runner.py and glue_runner.py).
- `C360_IAM=off` in the emulator's environment turns all of this off (every request allowed, as before).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote, urlparse

from c360 import config
from c360.local.emulator_context import ACCOUNT_ID, EmulatorContext

ADMIN_ARN = f"arn:aws:iam::{ACCOUNT_ID}:root"
ROLE_SESSION_SECONDS = 3600
# Where AWS's JSON and REST-JSON services say AccessDeniedException; query and XML services say AccessDenied.
# The name a request is signed with, where IAM's action prefix differs from it.
IAM_PREFIX = {"monitoring": "cloudwatch"}
EXCEPTION_CODE = {"dynamodb", "glue", "logs", "secretsmanager", "lambda", "monitoring", "cloudwatch", "events",
                  "sqs", "kms"}


# ---------------------------------------------------------------------------------------------- the evaluator
@dataclass(frozen=True)
class Decision:
    allowed: bool
    effect: str  # "Allow", "Deny" (explicit) or "implicit"
    sid: str | None = None  # the statement that decided (its Sid, or its index)

    def __bool__(self) -> bool:
        return self.allowed


def evaluate(policies: Iterable[dict], action: str, resource: str, context: dict[str, list[str]] | None = None
             ) -> Decision:
    """AWS's evaluation of identity-based policies for one request: explicit Deny > Allow > implicit deny."""
    context = context or {}
    allow = None
    for policy in policies:
        statements = policy.get("Statement", [])
        for i, st in enumerate([statements] if isinstance(statements, dict) else statements):
            if not _applies(st, action, resource, context):
                continue
            sid = st.get("Sid") or f"#{i}"
            if st.get("Effect") == "Deny":
                return Decision(False, "Deny", sid)
            if st.get("Effect") == "Allow" and allow is None:
                allow = sid
    return Decision(True, "Allow", allow) if allow is not None else Decision(False, "implicit")


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters (a `/` too), `?` one character; nothing else is special."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _applies(st: dict, action: str, resource: str, context: dict[str, list[str]]) -> bool:
    if "Action" in st:
        if not any(_like(p, action, ignore_case=True) for p in _as_list(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(_like(p, action, ignore_case=True) for p in _as_list(st["NotAction"])):
            return False
    else:
        return False
    if "Resource" in st:
        if not any(_like(p, resource) for p in _as_list(st["Resource"])):
            return False
    elif "NotResource" in st:
        if any(_like(p, resource) for p in _as_list(st["NotResource"])):
            return False
    return all(conditions_hold(st.get("Condition") or {}, context))


def _arn_like(pattern: str, value: str) -> bool:
    """ArnLike: the six ARN parts matched one by one (a wildcard does not cross a part's `:`)."""
    p, v = pattern.split(":", 5), value.split(":", 5)
    return len(p) == len(v) == 6 and all(_like(a, b) for a, b in zip(p, v, strict=True))


_OPERATORS = {
    "StringEquals": lambda want, have: want == have,
    "StringNotEquals": lambda want, have: want == have,  # negated below
    "StringEqualsIgnoreCase": lambda want, have: want.lower() == have.lower(),
    "StringNotEqualsIgnoreCase": lambda want, have: want.lower() == have.lower(),
    "StringLike": lambda want, have: _like(want, have),
    "StringNotLike": lambda want, have: _like(want, have),
    "ArnEquals": lambda want, have: want == have,
    "ArnNotEquals": lambda want, have: want == have,
    "ArnLike": _arn_like,
    "ArnNotLike": _arn_like,
    "Bool": lambda want, have: str(want).lower() == str(have).lower(),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike"}


def conditions_hold(condition: dict, context: dict[str, list[str]]):
    """Each condition block's result (a generator: `all()` of it is the statement's), AWS's rules for a missing key:
    false, except for negated operators, `...IfExists` and `Null`; `ForAllValues` holds for no values at all."""
    lowered = {k.lower(): v for k, v in context.items()}
    for raw_operator, keys in condition.items():
        set_op, _, operator = raw_operator.rpartition(":")
        if_exists = operator.endswith("IfExists")
        operator = operator.removesuffix("IfExists")
        for key, wanted in keys.items():
            have = lowered.get(key.lower())
            if operator == "Null":  # true: the key must be absent; false: present
                yield (have is None) == (str(_as_list(wanted)[0]).lower() == "true")
                continue
            test = _OPERATORS.get(operator)
            if test is None or set_op not in ("", "ForAnyValue", "ForAllValues"):
                if raw_operator not in UNKNOWN_OPERATORS:  # the docstring's promise: said once per operator
                    UNKNOWN_OPERATORS.add(raw_operator)
                    print(f"iam: condition operator {raw_operator} is not supported here: its statement does not "
                          "apply", flush=True)
                yield False
                continue
            if have is None:
                yield if_exists or operator in _NEGATED or set_op == "ForAllValues"
                continue
            wanted = [str(w) for w in _as_list(wanted)]

            def matches(value: str, wanted=wanted, test=test) -> bool:
                return any(test(w, value) for w in wanted)

            if set_op == "ForAllValues":
                result = all(matches(v) for v in have)
            else:  # one value (the usual key) or ForAnyValue
                result = any(matches(v) for v in have)
            yield not result if operator in _NEGATED else result


UNKNOWN_OPERATORS: set[str] = set()
_DeniedJson = _DeniedXml = None  # moto's error classes, made at install (moto is imported late)


# ---------------------------------------------------------------------------------------------- requests
def _params(req) -> dict[str, str]:
    """The request's parameters whatever the protocol: query string, form, JSON or CBOR body (first value each)."""
    out: dict[str, str] = {}
    for k, v in parse_qs(urlparse(req._path).query, keep_blank_values=True).items():
        out[k] = v[0]
    data = req._data
    if isinstance(data, dict):
        for k, v in data.items():
            out.setdefault(k, v[0] if isinstance(v, list) and v else v)
    body = req._body
    if body and isinstance(body, (bytes, str)):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        parsed = None
        if text[:1] == "{":
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
        elif isinstance(body, bytes) and "cbor" in str(req._headers.get("Content-Type", "")):
            try:
                from botocore.parsers import RpcV2CBORParser  # botocore's own CBOR decoder
                parsed = RpcV2CBORParser()._parse_cbor_body(body) if body else None  # noqa: SLF001
            except Exception:
                parsed = None
        elif "=" in text and req._headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            parsed = {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}
        if isinstance(parsed, dict):
            for k, v in parsed.items():
                out.setdefault(k, v)
    return out


def request_context(req, resource: str) -> tuple[str, dict[str, list[str]]]:
    """The resource ARN AWS would authorize this request against, and its condition keys."""
    service, action = req._action.split(":", 1)
    region, account = req._region, ACCOUNT_ID
    p = _params(req)
    context = {"aws:PrincipalArn": [req._access_key.arn], "aws:SecureTransport": ["false"]}
    if service == "s3":
        if action in ("ListBucket", "ListBucketVersions", "ListBucketMultipartUploads"):
            context["s3:prefix"] = [str(p.get("prefix", ""))]
        return resource, context
    if service == "cloudwatch":
        if "Namespace" in p:
            context["cloudwatch:namespace"] = [str(p["Namespace"])]
        return "*", context
    if resource not in ("*", ""):
        return resource, context
    if service == "dynamodb":
        table = p.get("TableName", "*")
        index = f"/index/{p['IndexName']}" if p.get("IndexName") else ""
        return f"arn:aws:dynamodb:{region}:{account}:table/{table}{index}", context
    if service == "glue" and p.get("JobName"):
        return f"arn:aws:glue:{region}:{account}:job/{p['JobName']}", context
    if service == "logs" and p.get("logGroupName"):
        stream = f":log-stream:{p['logStreamName']}" if p.get("logStreamName") else ""
        return f"arn:aws:logs:{region}:{account}:log-group:{p['logGroupName']}{stream}", context
    if service == "secretsmanager" and p.get("SecretId"):
        return _secret_arn(str(p["SecretId"]), region), context
    if service == "sns" and (p.get("TopicArn") or p.get("TargetArn")):
        return str(p.get("TopicArn") or p.get("TargetArn")), context
    if service == "lambda":
        name = unquote(req._path.split("/functions/", 1)[1].split("/", 1)[0]) if "/functions/" in req._path else ""
        if name:
            arn = name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{account}:function:{name}"
            return arn, context
    return "*", context


def _missing(object_arn: str) -> bool:
    """True when the bucket has no object under this key (S3's 403-or-404 rule for a GET or HEAD)."""
    from moto.s3.models import s3_backends

    bucket, _, key = object_arn.removeprefix("arn:aws:s3:::").partition("/")
    try:
        return s3_backends[ACCOUNT_ID]["aws"].get_object(bucket, key) is None
    except Exception:  # no such bucket: S3 says so itself
        return False


def _secret_arn(secret_id: str, region: str) -> str:
    if secret_id.startswith("arn:"):
        return secret_id
    from moto.secretsmanager import secretsmanager_backends

    try:
        return secretsmanager_backends[ACCOUNT_ID][region].describe_secret(secret_id).arn
    except Exception:  # no such secret: authorize against its name's pattern; the call then says it is missing
        return f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret_id}"


# ---------------------------------------------------------------------------------------------- counts and log
@dataclass
class Audit:
    """Every decision counted by principal and outcome; denials kept in a JSON-lines file and printed."""

    ctx: EmulatorContext
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, principal: str, action: str, resource: str, decision: Decision) -> None:
        who = "admin" if principal == ADMIN_ARN else principal.split(":")[-1].split("/")[1] \
            if "assumed-role/" in principal else principal.rsplit(":", 1)[-1]
        outcome = "authorized" if decision.allowed else "denied"
        with self.lock:
            self.counts[(who, outcome)] += 1
        if not decision.allowed:
            entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "principal": principal,
                     "action": action, "resource": resource, "decided_by": decision.effect, "sid": decision.sid}
            print(f"iam: DENIED {principal} {action} on {resource} ({decision.effect})", flush=True)
            with self.lock, open(self.ctx.path("iam") / "denied.jsonl", "a") as f:
                f.write(json.dumps(entry) + "\n")

    def summary(self) -> dict:
        with self.lock:
            by_principal: dict[str, dict[str, int]] = {}
            for (who, outcome), n in sorted(self.counts.items()):
                by_principal.setdefault(who, {"authorized": 0, "denied": 0})[outcome] = n
        total = {o: sum(v[o] for v in by_principal.values()) for o in ("authorized", "denied")}
        return {"enforced": True, **total, "by_principal": by_principal}


def decide(access_key, action: str, resource: str, context: dict[str, list[str]],
           missing: Callable[[str], bool] = lambda arn: False) -> tuple[str, str, Decision]:
    """The decision on one request of `access_key` (moto's): (action, resource, decision). With `missing`, S3's GET
    or HEAD of a missing key is decided as the s3:ListBucket it then needs (404 for a caller that may list the
    bucket; for others, 403). Shared by API requests and Spark's (check_session)."""
    from moto.iam.access_control import IAMPolicy

    policies = [IAMPolicy(p)._policy_json for p in access_key.collect_policies()]
    decision = evaluate(policies, action, resource, context)
    if decision.allowed and action in ("s3:GetObject", "s3:GetObjectVersion") and missing(resource):
        bucket, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
        listing = evaluate(policies, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {**context, "s3:prefix": [key]})
        if not listing.allowed:
            return "s3:ListBucket", f"arn:aws:s3:::{bucket}", listing
    return action, resource, decision


def check_session(audit: Audit, body: dict) -> dict:
    """POST /_c360/iam/check: may the role session with access key `session` do `action` on `resource` (with
    `prefix` as s3:prefix)? Asked by IamCheckedFileSystem for Spark's S3 requests in a local Glue run; counted and
    logged as any request. {"allowed": true} or {"allowed": false, "message": AWS's message}."""
    from moto.iam.access_control import AssumedRoleAccessKey
    from moto.sts.models import sts_backends

    key_id = str(body["session"])
    role = sts_backends[ACCOUNT_ID]["aws"].get_assumed_role_from_access_key(key_id)
    if role is None:
        raise ValueError(f"no role session has the access key {key_id!r}")
    key = AssumedRoleAccessKey(ACCOUNT_ID, "aws", key_id, {"X-Amz-Security-Token": role.session_token})
    context = {"aws:PrincipalArn": [key.arn], "aws:SecureTransport": ["false"]}
    if body.get("prefix") is not None:
        context["s3:prefix"] = [str(body["prefix"])]
    # a Spark request is on the run's staged copy, not moto's: IamCheckedFileSystem asks for a missing path's
    # s3:ListBucket itself
    action, resource, decision = decide(key, str(body["action"]), str(body["resource"]), context)
    audit.record(key.arn, action, resource, decision)
    if decision.allowed:
        return {"allowed": True}
    return {"allowed": False, "message": denial_message(key.arn, action, resource, decision)}


def denial_message(principal: str, action: str, resource: str, decision: Decision) -> str:
    """AWS's AccessDenied message within an account."""
    return (f"User: {principal} is not authorized to perform: {action} on resource: {resource} because "
            + (f"an explicit deny in an identity-based policy ({decision.sid}) denies it" if decision.effect == "Deny"
               else f"no identity-based policy allows the {action} action"))


# ---------------------------------------------------------------------------------------------- roles
class Sessions:
    """Temporary credentials of the roles the runners act as, as Lambda and Glue get them: AssumeRole by the
    service principal, allowed only if the role's trust policy names that service. Kept until 5 minutes before
    they expire (Lambda reuses an execution environment's credentials the same way)."""

    def __init__(self, ctx: EmulatorContext):
        self.ctx, self.lock, self.cache = ctx, threading.Lock(), {}

    def credentials(self, role_arn: str, service: str, session_name: str) -> dict[str, str]:
        """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of the role, for a child's environment.
        PermissionError (AWS's words) if the role is missing or does not trust the service."""
        from moto.iam.models import iam_backends
        from moto.sts.models import sts_backends

        key = (role_arn, service)
        with self.lock:
            cached = self.cache.get(key)
            if cached and cached[0] > time.time() + 300:
                return cached[1]
            try:
                role = iam_backends[ACCOUNT_ID]["aws"].get_role_by_arn(role_arn)
            except Exception as e:
                raise PermissionError(f"The role defined for the function cannot be assumed: {role_arn} "
                                      f"does not exist ({type(e).__name__})") from e
            trust = json.loads(role.assume_role_policy_document) if isinstance(
                role.assume_role_policy_document, str) else role.assume_role_policy_document
            if not _trusts(trust, service):
                raise PermissionError(f"The role defined for the function cannot be assumed by {service}: its trust "
                                      f"policy does not allow sts:AssumeRole for that service principal")
            session = sts_backends[ACCOUNT_ID]["aws"].assume_role(
                region_name=self.ctx.region, role_session_name=session_name[:64], role_arn=role_arn, policy="",
                duration=ROLE_SESSION_SECONDS, external_id="")
            creds = {"AWS_ACCESS_KEY_ID": session.access_key_id, "AWS_SECRET_ACCESS_KEY": session.secret_access_key,
                     "AWS_SESSION_TOKEN": session.session_token}
            self.cache[key] = (time.time() + ROLE_SESSION_SECONDS, creds)
            return creds

    def forget(self) -> None:
        with self.lock:
            self.cache.clear()


def _trusts(trust: dict, service: str) -> bool:
    statements = trust.get("Statement", [])
    for st in [statements] if isinstance(statements, dict) else statements:
        principals = st.get("Principal") or {}
        services = _as_list(principals.get("Service", [])) if isinstance(principals, dict) else []
        assumes = any(_like(a, "sts:AssumeRole", True) for a in _as_list(st.get("Action", [])))
        if st.get("Effect") == "Allow" and assumes and (service in services or principals == "*"):
            return True
    return False


def role_client(ctx: EmulatorContext, service_name: str, creds: dict[str, str]):
    """A boto3 client acting as a role's session (what a runner does on the role's behalf: logs, S3 staging)."""
    from c360 import aws

    return aws.client(service_name, ctx.settings(), aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
                      aws_session_token=creds["AWS_SESSION_TOKEN"])


# ---------------------------------------------------------------------------------------------- install
class _AdminKey:
    """The workbench's own key: the account's administrator, never evaluated."""

    arn = ADMIN_ARN

    def __init__(self, access_key_id: str):
        self._access_key_id = access_key_id

    def create_credentials(self):
        from botocore.credentials import Credentials

        return Credentials(config.LOCAL_ACCESS_KEY, config.LOCAL_SECRET_KEY)

    def collect_policies(self) -> list:
        return []


def _error_classes():
    from moto.core.exceptions import JsonRESTError, _RESTError

    class DeniedJson(JsonRESTError):
        code = 403

    class DeniedXml(_RESTError):
        code = 403

    return DeniedJson, DeniedXml


def enabled() -> bool:
    import os

    value = os.environ.get("C360_IAM", "enforce").strip().lower()
    if value not in ("enforce", "off"):
        raise ValueError(f"C360_IAM is enforce or off, not {value!r}")
    return value == "enforce"


def install(ctx: EmulatorContext) -> tuple[Audit, Sessions] | tuple[None, None]:
    """Turn on moto's authentication with this evaluator; (None, None) when C360_IAM=off."""
    if not enabled():
        return None, None
    from moto import settings
    from moto.iam import access_control

    global _DeniedJson, _DeniedXml
    _DeniedJson, _DeniedXml = _error_classes()
    audit, sessions = Audit(ctx), Sessions(ctx)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    original_create = access_control.create_access_key

    def create_access_key(account_id, partition, access_key_id, headers):
        if access_key_id == config.LOCAL_ACCESS_KEY and "X-Amz-Security-Token" not in headers:
            return _AdminKey(access_key_id)
        return original_create(account_id=account_id, partition=partition, access_key_id=access_key_id,
                               headers=headers)

    def check_action_permitted(self, resource: str) -> None:
        principal = self._access_key.arn
        service, _, name = self._action.partition(":")
        self._action = f"{IAM_PREFIX.get(service, service)}:{name}"
        if isinstance(self._access_key, _AdminKey) or self._action == "sts:GetCallerIdentity":
            audit.record(principal, self._action, resource, Decision(True, "admin"))
            return
        arn, context = request_context(self, resource)
        self._action, arn, decision = decide(self._access_key, self._action, arn, context, _missing)
        audit.record(principal, self._action, arn, decision)
        if decision.allowed:
            return
        message = denial_message(principal, self._action, arn, decision)
        if isinstance(self, access_control.S3IAMRequest):
            try:
                self._raise_access_denied()  # S3's own AccessDenied (XML, the bucket named) ...
            except Exception as error:
                error.message = message  # ... with the message AWS gives within an account
                raise
        if self._action.split(":", 1)[0] in EXCEPTION_CODE:
            raise _DeniedJson("AccessDeniedException", message)
        raise _DeniedXml("AccessDenied", message)

    def check_signature(self) -> None:
        """Not verified: moto recomputes SigV4 from the request it parsed and got Lambda's and S3's paths with
        encoded characters wrong (SignatureDoesNotMatch for valid requests). The access key, and a session's token,
        still name the caller."""

    access_control.create_access_key = create_access_key
    access_control.IAMRequestBase.check_action_permitted = check_action_permitted
    access_control.IAMRequestBase.check_signature = check_signature
    return audit, sessions


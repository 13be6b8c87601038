"""S3 reads racing a DELETE (or an overwrite) answer as AWS does: the complete bytes of the version, or 404.

moto 5.2.5 keeps each object version's bytes in a SpooledTemporaryFile (FakeKey._value_buffer). A DELETE of the
version, or a PUT that replaces it in an unversioned bucket, closes that buffer at once (FakeKey.dispose, called
by _VersionedKeyStore.setlist / pop) without the lock FakeKey.value reads under. A GET, a Range GET or a
CopyObject that had already looked the version up then read a closed file, and the server answered 500
(`ValueError: I/O operation on closed file`); botocore retried it, hiding it, or gave up. Looking the key up raced
too: `if name in keys: keys[name]` (S3Backend.get_object) and the listings' `self[name]` met a key just removed
(KeyError, IndexError, 500). Seen when the Glue runner staged raw/ while the validation Lambda moved a file.

Here, with moto's own per-key lock:
- a read takes its copy of the bytes under the key's lock, and dispose takes the same lock, so a read started
  before the DELETE returns the whole version and one after it finds the key gone (never torn bytes); the ETag
  is computed when the version is made, so nothing else reads the buffer later;
- the key store removes a version before closing its buffer, and listings iterate one snapshot of the store;
- ListObjectVersions copies each version's metadata, not its bytes (moto's copies were never freed);
- a request whose version went away under it is served again from the start (it now resolves to what is
  there after the DELETE: the key's new latest version, or 404 NoSuchKey / NoSuchVersion as moto answers),
  at most RETRIES times, then 404; a key still listed with no version left (a DELETE between emptying and
  removing it) is absent, as moto answers a missing key.
Difference from AWS: AWS keeps serving a GET that has begun streaming after a DELETE; here the whole body is
copied before the response starts, as moto always did, so the same holds. Nothing is kept after a delete: the
buffer is still closed at once, only no longer under a read.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from typing import Any

RETRIES = 5

_made = itertools.count(1)  # FakeKey creation order: tells a version read by a request from one it created


class KeyGone(ValueError):
    """The version's bytes were disposed of (deleted or replaced) before this read. A ValueError, as moto's own
    FakeKey.__getstate__ expects of a closed buffer."""

    def __init__(self, key: Any):
        super().__init__(f"object version {getattr(key, 'name', '?')} was deleted while being read")
        self.key = key


def install(ctx: Any = None) -> None:
    from moto.s3 import models, responses, utils
    from moto.s3.exceptions import MissingKey, MissingVersion

    key_cls, store_cls = models.FakeKey, utils._VersionedKeyStore
    if getattr(key_cls, "_c360_consistent", False):
        return
    key_cls._c360_consistent = True

    original_init, original_dispose = key_cls.__init__, key_cls.dispose

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        self._c360_made = next(_made)
        if self._etag is None:  # computed now, while no other thread can dispose of the buffer
            self.etag  # noqa: B018

    def value(self) -> bytes:
        with self.lock:
            if self.disposed or self._value_buffer.closed:
                raise KeyGone(self)
            self._value_buffer.seek(0)
            return self._value_buffer.read()

    def dispose(self, garbage: bool = False) -> None:
        lock = getattr(self, "lock", None)
        if garbage or lock is None:  # from __del__: no reader holds it
            return original_dispose(self, garbage)
        with lock:
            original_dispose(self, garbage)

    def __deepcopy__(self, memo: dict) -> Any:
        """The copy ListObjectVersions makes of every version (to mark is_latest): its metadata, not its bytes.
        moto's copy read the bytes (a version disposed meanwhile was listed with Size 0) and, tracked by moto
        forever, kept them: every listing of versions held another copy of the bucket."""
        twin = object.__new__(type(self))  # not BaseModel.__new__: not tracked, so freed after the listing
        memo[id(self)] = twin
        state = {k: v for k, v in self.__dict__.items() if k not in ("_value_buffer", "lock")}
        twin.__dict__.update(copy.deepcopy(state, memo))
        twin._value_buffer, twin.lock, twin.disposed = None, threading.Lock(), True  # reads of it: KeyGone
        return twin

    key_cls.__init__ = __init__
    key_cls.value = property(value, key_cls.value.fset)
    key_cls.dispose = dispose
    key_cls.__deepcopy__ = __deepcopy__

    # The store: a version leaves the map before its buffer is closed; listings read one snapshot of it.
    def setlist(self, key: Any, list_: Any) -> None:
        list_ = list(list_) if isinstance(list_, tuple) else list_ if isinstance(list_, list) else [list_]
        dropped = [v for v in (self.getlist(key, []) or []) if v not in list_ and hasattr(v, "dispose")]
        dict.__setitem__(self, key, list_)
        for version in dropped:
            version.dispose()

    def pop(self, key: str) -> None:
        versions = dict.pop(self, key)  # KeyError if absent, as before (delete_object relies on it)
        for version in versions or []:
            version.dispose()

    def getitem(self, key: str) -> Any:
        versions = dict.__getitem__(self, key)
        if not versions:  # emptied by a delete that has not popped it yet
            raise KeyError(key)
        return versions[-1]

    def iterlists(self):
        for key, versions in dict(self).items():
            if versions:
                yield key, list(versions)

    def iteritems(self):
        for key, versions in iterlists(self):
            yield key, versions[-1]

    def itervalues(self):
        for _, versions in iterlists(self):
            yield versions[-1]

    store_cls.setlist, store_cls.pop, store_cls.__getitem__ = setlist, pop, getitem
    store_cls.items = store_cls.iteritems = store_cls._iteritems = iteritems
    store_cls.values = store_cls.itervalues = store_cls._itervalues = itervalues
    store_cls.lists = store_cls.iterlists = store_cls._iterlists = iterlists

    original_get_object = models.S3Backend.get_object

    def get_object(self, bucket_name: str, key_name: str, version_id: str | None = None,
                   part_number: str | None = None, return_delete_marker: bool = False):
        for attempt in range(RETRIES):  # moto's `if name in keys: keys[name]` met a key deleted in between
            try:
                return original_get_object(self, bucket_name, key_name, version_id, part_number,
                                           return_delete_marker)
            except (KeyError, IndexError):
                time.sleep(0.002 * (attempt + 1))  # let the DELETE finish: the key is then absent, or has its
                # new latest version
        # Still listed with no version left: a DELETE emptied it and has not removed it yet (seen once in CI, the
        # deleting thread preempted for over 5 ms). No version is there: absent, as moto answers a missing key.
        return None

    models.S3Backend.get_object = get_object

    original_key_response = responses.S3Response._key_response

    def _key_response(self, request: Any, full_url: str):
        started = next(_made)
        for attempt in range(RETRIES):
            try:
                return original_key_response(self, request, full_url)
            except KeyGone as gone:
                if getattr(gone.key, "_c360_made", 0) > started:
                    raise  # a version this request made itself: serving it again would repeat its write
                time.sleep(0.001 * attempt)
        if "versionId" in self.querystring or "versionId" in (self.headers.get("x-amz-copy-source") or ""):
            raise MissingVersion()
        raise MissingKey(key=self.parse_key_name())

    responses.S3Response._key_response = _key_response

"""Talking to the two word services: pooled connections, short timeouts, concurrent calls,
and a small cache of the word lists that is never older than settings.WORD_CACHE_TTL.

Every failure becomes an UpstreamError naming the service: 503 when it cannot be reached,
504 when it is too slow, 502 when its answer is not what the contract says."""

import contextvars
import os
import random
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter

from wordmix.observability import outgoing_trace_headers
from wordmix.problems import Problem


class UpstreamError(Problem):
    def __init__(self, upstream: "Upstream", detail: str) -> None:
        super().__init__(f"The {upstream.name} service {detail}.", upstream=upstream.name)


class UpstreamUnreachable(UpstreamError):
    status = 503


class UpstreamTimeout(UpstreamError):
    status = 504


class UpstreamBadAnswer(UpstreamError):
    status = 502


@dataclass(frozen=True)
class Upstream:
    name: str  # "verbs"
    singular: str  # "verb": the key of its /random answer
    base_url: str


def upstreams() -> tuple[Upstream, Upstream]:
    return (
        Upstream("verbs", "verb", settings.VERBS_URL),
        Upstream("nouns", "noun", settings.NOUNS_URL),
    )


class _Pool:
    """A requests.Session and a thread pool per process: the server forks its worker after the
    module may have been imported, and neither sockets nor threads survive a fork."""

    session: requests.Session
    executor: ThreadPoolExecutor

    def __init__(self) -> None:
        self._pid = -1  # made on first use in each process, by _ensure
        self._lock = threading.Lock()

    def _ensure(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid == os.getpid():
                return
            session = requests.Session()
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=32, max_retries=0)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.trust_env = False  # never route in-cluster calls through a proxy
            self.session = session
            self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="upstream")
            self._pid = os.getpid()

    def get(self) -> "_Pool":
        self._ensure()
        return self


_pool = _Pool()


def fetch_json(upstream: Upstream, path: str, *, timeout: tuple[float, float] | None = None) -> Any:
    pool = _pool.get()
    url = f"{upstream.base_url}{path}"
    timeout = timeout or (settings.UPSTREAM_CONNECT_TIMEOUT, settings.UPSTREAM_READ_TIMEOUT)
    headers = {"Accept": "application/json", **outgoing_trace_headers()}
    try:
        response = pool.session.get(url, timeout=timeout, headers=headers, allow_redirects=False)
    except requests.ConnectTimeout:
        raise UpstreamUnreachable(upstream, "could not be reached in time") from None
    except requests.Timeout:
        raise UpstreamTimeout(upstream, f"did not answer within {timeout[1]:g} s") from None
    except requests.RequestException as error:
        raise UpstreamUnreachable(
            upstream, f"could not be reached ({error.__class__.__name__})"
        ) from None
    if response.status_code != 200:
        raise UpstreamBadAnswer(upstream, f"answered HTTP {response.status_code} to GET {path}")
    try:
        return response.json()
    except ValueError:
        raise UpstreamBadAnswer(upstream, f"answered GET {path} with something not JSON") from None


def _texts(upstream: Upstream, payload: Any, key: str) -> list[str]:
    value = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise UpstreamBadAnswer(upstream, f"answered /all without a list of strings under {key!r}")
    return value


class WordList:
    """One upstream's word list, cached for at most `ttl` seconds and at most `max_words`
    words. Never serves an older list: once it expires, a failed refresh is an error."""

    # After a failure, the same error is answered for this long instead of calling again:
    # a stalled upstream must not hold every request for its full timeout in turn.
    FAILURE_HOLD = 0.2

    def __init__(self, upstream: Upstream, ttl: float, max_words: int) -> None:
        self.upstream = upstream
        self.ttl = ttl
        self.max_words = max_words
        self._lock = threading.Lock()
        self._words: list[str] | None = None
        self._fetched_at = float("-inf")
        self._failure: UpstreamError | None = None
        self._failed_at = float("-inf")
        self._too_big = False

    def is_fresh(self, now: float) -> bool:
        return now - self._fetched_at < self.ttl

    def words(self) -> list[str] | None:
        """The list, or None when it is too long to cache (then ask for one random word)."""
        now = time.monotonic()
        if self.is_fresh(now):
            return None if self._too_big else self._words
        with self._lock:  # one refresh at a time; the others wait and reuse it
            now = time.monotonic()
            if self.is_fresh(now):
                return None if self._too_big else self._words
            if self._failure is not None and now - self._failed_at < self.FAILURE_HOLD:
                raise self._failure
            try:
                words = _texts(self.upstream, fetch_json(self.upstream, "/all"), self.upstream.name)
            except UpstreamError as error:
                self._words, self._fetched_at = None, float("-inf")
                self._failure, self._failed_at = error, time.monotonic()
                raise
            self._failure = None
            self._too_big = len(words) > self.max_words
            self._words = None if self._too_big else words
            self._fetched_at = time.monotonic()
            return self._words

    def fresh_words(self, now: float) -> list[str] | None:
        """The cached list if it is fresh and not empty, else None; never calls upstream."""
        words = self._words
        if words and not self._too_big and self.is_fresh(now):
            return words
        return None

    def random_word(self) -> str:
        words = self.words()
        if words is None:
            return random_word(self.upstream)
        if not words:
            raise UpstreamUnreachable(self.upstream, "has no words yet")
        # The module's generator, not SystemRandom: picking a word to show needs no
        # unpredictability, and SystemRandom's read of os.urandom on every pick released and
        # re-took the GIL each time, ~5 % of a loaded aggregator's samples (py-spy). The module
        # reseeds its generator in every forked worker.
        return random.choice(words)  # noqa: S311


def random_word(upstream: Upstream) -> str:
    payload = fetch_json(upstream, f"/api/v1/{upstream.name}/random/")
    value = payload.get(upstream.singular) if isinstance(payload, dict) else None
    if not isinstance(value, str):
        raise UpstreamBadAnswer(upstream, f"answered /random without a {upstream.singular!r}")
    return value


_lists: dict[str, WordList] = {}
_lists_lock = threading.Lock()


def word_list(upstream: Upstream) -> WordList:
    key = f"{upstream.name}@{upstream.base_url}"
    with _lists_lock:
        if key not in _lists:
            _lists[key] = WordList(upstream, settings.WORD_CACHE_TTL, settings.WORD_CACHE_MAX_WORDS)
        return _lists[key]


def clear_cache() -> None:
    with _lists_lock:
        _lists.clear()


def _both(verb_call: Any, noun_call: Any) -> tuple[str, str]:
    """Run the two calls concurrently (the noun one on the pool, the verb one here)."""
    # The copied context carries the request's trace headers into the pool's thread.
    context = contextvars.copy_context()
    noun_future: Future[str] = _pool.get().executor.submit(context.run, noun_call)
    try:
        verb = verb_call()
    finally:
        # Always collect the noun call, so its error is not lost when the verb call failed.
        noun_error: BaseException | None = noun_future.exception()
    if noun_error is not None:
        raise noun_error
    return verb, noun_future.result()


def random_mix() -> tuple[str, str]:
    verbs, nouns = upstreams()
    if settings.MIX_MODE == "fanout":
        return _both(lambda: random_word(verbs), lambda: random_word(nouns))
    verb_list, noun_list = word_list(verbs), word_list(nouns)
    now = time.monotonic()
    if verb_list.is_fresh(now) and noun_list.is_fresh(now):
        return verb_list.random_word(), noun_list.random_word()
    return _both(verb_list.random_word, noun_list.random_word)


def fresh_mix() -> tuple[str, str] | None:
    """A mix picked from both cached lists when both are fresh, else None: then the caller
    takes the full path, which refreshes them (forwarding the request's trace headers) or
    answers the problem. Makes no upstream call."""
    if settings.MIX_MODE == "fanout":
        return None
    verbs, nouns = upstreams()
    now = time.monotonic()
    verb_words = word_list(verbs).fresh_words(now)
    noun_words = word_list(nouns).fresh_words(now)
    if verb_words is None or noun_words is None:
        return None
    return random.choice(verb_words), random.choice(noun_words)  # noqa: S311 (as above)


def check_upstreams() -> str | None:
    """For /readyz: None when both services answer their /healthz, else what failed."""

    def probe(upstream: Upstream) -> str:
        fetch_json(upstream, "/healthz", timeout=(0.5, 0.5))
        return "ok"

    verbs, nouns = upstreams()
    try:
        _both(lambda: probe(verbs), lambda: probe(nouns))
    except UpstreamError as error:
        return error.detail
    return None

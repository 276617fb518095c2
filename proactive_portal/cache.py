"""Django's Redis cache, with one redis-py client per server kept for the
process.

Django's own backend makes a new ``redis.Redis`` for every operation, and
each one builds its table of response callbacks (a few hundred entries):
on a cabinet page that reads the session and the cached page, that was a
tenth of the request's time. A client is safe to share between threads; its
connection pool was shared already.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _SharedClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = self._get_connection_pool(write)
            client = self._clients.setdefault(index, self._client(connection_pool=pool))
        return client


class SharedClientRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _SharedClient

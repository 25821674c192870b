"""Built-in Redis adapter: key templates, hash fields, set/list/sorted-set members."""

from adapters.redis.adapter import RedisAdapter
from adapters.redis.config import RedisConfig

__all__ = ["RedisAdapter", "RedisConfig"]

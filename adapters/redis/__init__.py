"""Built-in Redis adapter: key templates, hash fields, set/list/sorted-set members."""

from dsrflow.adapters.redis.adapter import RedisAdapter
from dsrflow.adapters.redis.config import RedisConfig

__all__ = ["RedisAdapter", "RedisConfig"]

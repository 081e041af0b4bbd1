"""A lease in the wf-leases bucket: one holder at a time, lost when not renewed within the bucket's TTL.

Used so that one coordinator replica (the leader) runs the deadline sweeper instead of every replica reading every
active plan.
"""

import logging

log = logging.getLogger(__name__)


class Lease:
    def __init__(self, store, name: str, holder: str):
        self.store = store
        self.name = name
        self.holder = holder.encode()
        self.revision = 0

    async def hold(self) -> bool:
        """Take the lease when it is free, renew it when held; True while this instance holds it."""
        if self.revision:
            revision = await self.store.update(self.name, self.holder, self.revision)
            if revision is not None:
                self.revision = revision
                return True
            log.info("lease %s lost", self.name)
            self.revision = 0
        revision = await self.store.create(self.name, self.holder)
        if revision is not None:
            log.info("lease %s taken", self.name)
            self.revision = revision
            return True
        return False

    async def release(self) -> None:
        if self.revision:
            await self.store.delete(self.name)
            self.revision = 0

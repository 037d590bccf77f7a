// A stand-in with the class and method names of HikariCP's pool (no network access to fetch the real
// jar in tests): callers wait in HikariPool.getConnection -> ConcurrentBag.borrow -> SynchronousQueue.poll,
// the same frames a real HikariCP 5 pool shows while it has no free connection.
package com.zaxxer.hikari.pool;

import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

public class HikariPool {
    public static class ConcurrentBag {
        final SynchronousQueue<Object> handoffQueue = new SynchronousQueue<>(true);
        public Object borrow(long timeout, TimeUnit unit) throws InterruptedException {
            return handoffQueue.poll(timeout, unit);
        }
    }

    final ConcurrentBag connectionBag = new ConcurrentBag();

    public Object getConnection(long hardTimeout) throws InterruptedException {
        return connectionBag.borrow(hardTimeout, TimeUnit.MILLISECONDS);
    }
}

// Two request threads take the SessionCache and TokenStore monitors in opposite orders and deadlock;
// more request threads then pile up BLOCKED behind the SessionCache monitor.
package com.example.auth;

import java.util.concurrent.CountDownLatch;

class SessionCache {
    TokenStore store;
    synchronized void refresh(String user) throws InterruptedException {
        MonitorDeadlock.BOTH_INSIDE.countDown();
        MonitorDeadlock.BOTH_INSIDE.await();
        store.invalidate(user);
    }
    synchronized void evict(String user) { }
}

class TokenStore {
    SessionCache cache;
    synchronized void invalidate(String user) { cache.evict(user); }
    synchronized void rotate(String user) throws InterruptedException {
        MonitorDeadlock.BOTH_INSIDE.countDown();
        MonitorDeadlock.BOTH_INSIDE.await();
        cache.evict(user);
    }
}

public class MonitorDeadlock {
    static final CountDownLatch BOTH_INSIDE = new CountDownLatch(2);

    public static void main(String[] args) throws Exception {
        int waiters = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        SessionCache cache = new SessionCache();
        TokenStore store = new TokenStore();
        cache.store = store;
        store.cache = cache;
        new Thread(() -> { try { cache.refresh("alice"); } catch (InterruptedException e) { } }, "http-nio-8080-exec-1").start();
        new Thread(() -> { try { store.rotate("bob"); } catch (InterruptedException e) { } }, "http-nio-8080-exec-2").start();
        BOTH_INSIDE.await();
        Thread.sleep(200);
        for (int i = 0; i < waiters; i++) {
            new Thread(() -> { try { cache.refresh("carol"); } catch (InterruptedException e) { } }, "http-nio-8080-exec-" + (i + 3)).start();
        }
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}

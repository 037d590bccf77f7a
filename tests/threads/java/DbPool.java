// Request threads all wait for a database connection from the pool: evidence for the database, not a deadlock.
package com.example.auth;

import com.zaxxer.hikari.pool.HikariPool;

public class DbPool {
    static class UserRepository {
        final HikariPool pool;
        UserRepository(HikariPool pool) { this.pool = pool; }
        Object findByEmail(String email) throws InterruptedException { return pool.getConnection(600_000); }
    }

    public static void main(String[] args) throws Exception {
        int workers = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        UserRepository repo = new UserRepository(new HikariPool());
        for (int i = 1; i <= workers; i++) {
            new Thread(() -> { try { repo.findByEmail("a@example.com"); } catch (InterruptedException e) { } }, "http-nio-8080-exec-" + i).start();
        }
        Thread.sleep(500);
        System.out.println("READY");
        Thread.sleep(600_000);
    }
}

// The Hive metastore service bound to one address.
//
// Hive 2.3's HiveMetaStore (the version inside pyspark) always listens on every
// interface. This launcher builds the same handler chain as HiveMetaStore.startMetaStore
// (HMSHandler -> RetryingHMSHandler -> TSetIpAddressProcessor, binary protocol, no SASL)
// on a server socket bound to the address given, so the local stack stays on loopback.
//
// Before serving, it creates the metastore's lock and transaction tables when they are
// missing: neither DataNucleus' auto-create (Derby) nor its SchemaTool (PostgreSQL)
// makes them, and Iceberg's Hive catalog takes a metastore lock on every commit.
//
// Usage: java -cp "$SPARK_HOME/jars/*:CONF_DIR:CLASSES" LoopbackMetastore HOST PORT
import java.net.InetSocketAddress;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;

import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.IHMSHandler;
import org.apache.hadoop.hive.metastore.RetryingHMSHandler;
import org.apache.hadoop.hive.metastore.TSetIpAddressProcessor;
import org.apache.hadoop.hive.metastore.txn.TxnDbUtil;
import org.apache.thrift.protocol.TBinaryProtocol;
import org.apache.thrift.server.TServer;
import org.apache.thrift.server.TThreadPoolServer;
import org.apache.thrift.transport.TServerSocket;
import org.apache.thrift.transport.TTransportFactory;

public final class LoopbackMetastore {
  private LoopbackMetastore() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: LoopbackMetastore HOST PORT");
      System.exit(2);
    }
    String host = args[0];
    int port = Integer.parseInt(args[1]);
    HiveConf conf = new HiveConf(HiveMetaStore.HMSHandler.class);
    HiveMetaStore.HMSHandler base = new HiveMetaStore.HMSHandler("edtrack metastore", conf, false);
    ensureLockTables(conf);
    IHMSHandler handler = RetryingHMSHandler.getProxy(conf, base, false);
    TServerSocket socket = new TServerSocket(new InetSocketAddress(host, port));
    TThreadPoolServer.Args serverArgs = new TThreadPoolServer.Args(socket)
        .processor(new TSetIpAddressProcessor<>(handler))
        .transportFactory(new TTransportFactory())
        .protocolFactory(new TBinaryProtocol.Factory())
        .inputProtocolFactory(new TBinaryProtocol.Factory(true, true, 100 * 1024 * 1024, -1))
        .minWorkerThreads(4)
        .maxWorkerThreads(64);
    TServer server = new TThreadPoolServer(serverArgs);
    System.out.println("edtrack metastore listening on " + host + ":" + port);
    server.serve();
  }

  // Hive's own DDL for the lock and transaction tables (TxnDbUtil.prepDb, written for
  // Derby); on PostgreSQL the same statements with its binary type, run in one
  // transaction. Unquoted names, as the metastore's queries of these tables use them.
  static void ensureLockTables(HiveConf conf) throws Exception {
    String url = conf.getVar(HiveConf.ConfVars.METASTORECONNECTURLKEY);
    String user = conf.getVar(HiveConf.ConfVars.METASTORE_CONNECTION_USER_NAME);
    String password = conf.getVar(HiveConf.ConfVars.METASTOREPWD);
    boolean derby = url.startsWith("jdbc:derby:");
    try (Connection db = derby ? DriverManager.getConnection(url)
        : DriverManager.getConnection(url, user, password)) {
      if (hasTable(db, "HIVE_LOCKS")) {
        return;
      }
    }
    if (derby) {
      TxnDbUtil.prepDb(conf);
      System.out.println("edtrack metastore: created the lock and transaction tables");
      return;
    }
    try (Connection db = DriverManager.getConnection(url, user, password);
        Statement statement = db.createStatement()) {
      db.setAutoCommit(false);
      for (String ddl : POSTGRES_LOCK_TABLES) {
        statement.execute(ddl);
      }
      db.commit();
    }
    System.out.println("edtrack metastore: created the lock and transaction tables");
  }

  static boolean hasTable(Connection db, String name) throws Exception {
    for (String candidate : new String[] {name, name.toLowerCase()}) {
      try (ResultSet tables = db.getMetaData().getTables(null, null, candidate, null)) {
        if (tables.next()) {
          return true;
        }
      }
    }
    return false;
  }

  static final String[] POSTGRES_LOCK_TABLES = {
    "CREATE TABLE TXNS (TXN_ID bigint PRIMARY KEY, TXN_STATE char(1) NOT NULL,"
        + " TXN_STARTED bigint NOT NULL, TXN_LAST_HEARTBEAT bigint NOT NULL,"
        + " TXN_USER varchar(128) NOT NULL, TXN_HOST varchar(128) NOT NULL)",
    "CREATE TABLE TXN_COMPONENTS (TC_TXNID bigint REFERENCES TXNS (TXN_ID),"
        + " TC_DATABASE varchar(128) NOT NULL, TC_TABLE varchar(128),"
        + " TC_PARTITION varchar(767), TC_OPERATION_TYPE char(1) NOT NULL)",
    "CREATE TABLE COMPLETED_TXN_COMPONENTS (CTC_TXNID bigint,"
        + " CTC_DATABASE varchar(128) NOT NULL, CTC_TABLE varchar(128),"
        + " CTC_PARTITION varchar(767))",
    "CREATE TABLE NEXT_TXN_ID (NTXN_NEXT bigint NOT NULL)",
    "INSERT INTO NEXT_TXN_ID VALUES(1)",
    "CREATE TABLE HIVE_LOCKS (HL_LOCK_EXT_ID bigint NOT NULL, HL_LOCK_INT_ID bigint NOT NULL,"
        + " HL_TXNID bigint, HL_DB varchar(128) NOT NULL, HL_TABLE varchar(128),"
        + " HL_PARTITION varchar(767), HL_LOCK_STATE char(1) NOT NULL,"
        + " HL_LOCK_TYPE char(1) NOT NULL, HL_LAST_HEARTBEAT bigint NOT NULL,"
        + " HL_ACQUIRED_AT bigint, HL_USER varchar(128) NOT NULL, HL_HOST varchar(128) NOT NULL,"
        + " HL_HEARTBEAT_COUNT integer, HL_AGENT_INFO varchar(128), HL_BLOCKEDBY_EXT_ID bigint,"
        + " HL_BLOCKEDBY_INT_ID bigint, PRIMARY KEY(HL_LOCK_EXT_ID, HL_LOCK_INT_ID))",
    "CREATE INDEX HL_TXNID_INDEX ON HIVE_LOCKS (HL_TXNID)",
    "CREATE TABLE NEXT_LOCK_ID (NL_NEXT bigint NOT NULL)",
    "INSERT INTO NEXT_LOCK_ID VALUES(1)",
    "CREATE TABLE COMPACTION_QUEUE (CQ_ID bigint PRIMARY KEY, CQ_DATABASE varchar(128) NOT NULL,"
        + " CQ_TABLE varchar(128) NOT NULL, CQ_PARTITION varchar(767), CQ_STATE char(1) NOT NULL,"
        + " CQ_TYPE char(1) NOT NULL, CQ_TBLPROPERTIES varchar(2048), CQ_WORKER_ID varchar(128),"
        + " CQ_START bigint, CQ_RUN_AS varchar(128), CQ_HIGHEST_TXN_ID bigint,"
        + " CQ_META_INFO bytea, CQ_HADOOP_JOB_ID varchar(32))",
    "CREATE TABLE NEXT_COMPACTION_QUEUE_ID (NCQ_NEXT bigint NOT NULL)",
    "INSERT INTO NEXT_COMPACTION_QUEUE_ID VALUES(1)",
    "CREATE TABLE COMPLETED_COMPACTIONS (CC_ID bigint PRIMARY KEY,"
        + " CC_DATABASE varchar(128) NOT NULL, CC_TABLE varchar(128) NOT NULL,"
        + " CC_PARTITION varchar(767), CC_STATE char(1) NOT NULL, CC_TYPE char(1) NOT NULL,"
        + " CC_TBLPROPERTIES varchar(2048), CC_WORKER_ID varchar(128), CC_START bigint,"
        + " CC_END bigint, CC_RUN_AS varchar(128), CC_HIGHEST_TXN_ID bigint, CC_META_INFO bytea,"
        + " CC_HADOOP_JOB_ID varchar(32))",
    "CREATE TABLE AUX_TABLE (MT_KEY1 varchar(128) NOT NULL, MT_KEY2 bigint NOT NULL,"
        + " MT_COMMENT varchar(255), PRIMARY KEY(MT_KEY1, MT_KEY2))",
    "CREATE TABLE WRITE_SET (WS_DATABASE varchar(128) NOT NULL, WS_TABLE varchar(128) NOT NULL,"
        + " WS_PARTITION varchar(767), WS_TXNID bigint NOT NULL, WS_COMMIT_ID bigint NOT NULL,"
        + " WS_OPERATION_TYPE char(1) NOT NULL)",
  };
}

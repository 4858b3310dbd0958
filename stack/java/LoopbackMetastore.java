// The Hive metastore service bound to one address.
//
// Hive 2.3's HiveMetaStore (the version inside pyspark) always listens on every
// interface. This launcher builds the same handler chain as HiveMetaStore.startMetaStore
// (HMSHandler -> RetryingHMSHandler -> TSetIpAddressProcessor, binary protocol, no SASL)
// on a server socket bound to the address given, so the local stack stays on loopback.
//
// Usage: java -cp "$SPARK_HOME/jars/*:CONF_DIR:CLASSES" LoopbackMetastore HOST PORT
import java.net.InetSocketAddress;

import org.apache.hadoop.hive.conf.HiveConf;
import org.apache.hadoop.hive.metastore.HiveMetaStore;
import org.apache.hadoop.hive.metastore.IHMSHandler;
import org.apache.hadoop.hive.metastore.RetryingHMSHandler;
import org.apache.hadoop.hive.metastore.TSetIpAddressProcessor;
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
}

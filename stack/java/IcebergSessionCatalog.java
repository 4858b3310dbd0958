// Iceberg's session catalog, dropping only Iceberg tables through Iceberg.
//
// Iceberg 1.10's SparkSessionCatalog drops any table through its Hive catalog first,
// which removes a plain Hive table from the metastore without deleting its files
// (apache/iceberg#12790): the next CREATE TABLE of that name then fails with
// LOCATION_ALREADY_EXISTS (a dbt seed does exactly that on every run). Here a table
// that is not Iceberg's is dropped by Spark's own catalog, which deletes a managed
// table's files, as Spark without Iceberg does.
//
// Compiled by `edtrack stack up` against pyspark's and Iceberg's jars.
import org.apache.iceberg.spark.SparkSessionCatalog;
import org.apache.iceberg.spark.source.SparkTable;
import org.apache.spark.sql.catalyst.analysis.NoSuchTableException;
import org.apache.spark.sql.connector.catalog.CatalogPlugin;
import org.apache.spark.sql.connector.catalog.FunctionCatalog;
import org.apache.spark.sql.connector.catalog.Identifier;
import org.apache.spark.sql.connector.catalog.SupportsNamespaces;
import org.apache.spark.sql.connector.catalog.TableCatalog;
import org.apache.spark.sql.connector.catalog.ViewCatalog;

public class IcebergSessionCatalog<
        T extends TableCatalog & FunctionCatalog & SupportsNamespaces & ViewCatalog>
    extends SparkSessionCatalog<T> {
  private TableCatalog spark;

  @Override
  public void setDelegateCatalog(CatalogPlugin delegate) {
    super.setDelegateCatalog(delegate);
    spark = (TableCatalog) delegate;
  }

  private boolean isIceberg(Identifier ident) {
    try {
      return loadTable(ident) instanceof SparkTable;
    } catch (NoSuchTableException e) {
      return false;
    }
  }

  @Override
  public boolean dropTable(Identifier ident) {
    return isIceberg(ident) ? super.dropTable(ident) : spark.dropTable(ident);
  }

  @Override
  public boolean purgeTable(Identifier ident) {
    return isIceberg(ident) ? super.purgeTable(ident) : spark.purgeTable(ident);
  }
}

package org.evidencekit.fhirserver;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.api.dao.DaoRegistry;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.jpa.config.r5.JpaR5Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.config.util.ResourceCountCacheUtil;
import ca.uhn.fhir.jpa.dao.FulltextSearchSvcImpl;
import ca.uhn.fhir.jpa.dao.IFulltextSearchSvc;
import ca.uhn.fhir.jpa.dao.search.HSearchSortHelperImpl;
import ca.uhn.fhir.jpa.dao.search.IHSearchSortHelper;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.config.SubscriptionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.provider.DaoRegistryResourceSupportedSvc;
import ca.uhn.fhir.jpa.provider.IJpaSystemProvider;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.ValueSetOperationProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.jpa.search.IStaleSearchDeletingSvc;
import ca.uhn.fhir.jpa.search.StaleSearchDeletingSvcImpl;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.jpa.subscription.model.config.SubscriptionModelConfig;
import ca.uhn.fhir.jpa.util.ResourceCountCache;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.interceptor.CorsInterceptor;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import ca.uhn.fhir.rest.api.IResourceSupportedSvc;
import jakarta.persistence.EntityManagerFactory;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.springframework.beans.factory.config.AutowireCapableBeanFactory;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.web.servlet.ServletRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.web.cors.CorsConfiguration;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

/**
 * A HAPI FHIR JPA server for FHIR R5 on H2, served at {@code /fhir}.
 *
 * <p>Written against HAPI's library API for evidencekit's integration tests; also usable
 * as a local FHIR server ({@code make fhir-server}). Binds to 127.0.0.1 unless told otherwise.
 */
@SpringBootApplication
@Import({JpaR5Config.class, SubscriptionChannelConfig.class, SubscriptionModelConfig.class,
    JpaBatch2Config.class, Batch2JobsConfig.class, ThreadPoolFactoryConfig.class})
public class FhirTestServer {

  public static void main(String[] args) {
    SpringApplication.run(FhirTestServer.class, args);
  }

  @Bean
  public JpaStorageSettings storageSettings() {
    JpaStorageSettings settings = new JpaStorageSettings();
    settings.setResourceClientIdStrategy(JpaStorageSettings.ClientIdStrategyEnum.ANY);
    settings.setAllowExternalReferences(true);
    settings.setExpungeEnabled(true);
    settings.setAllowMultipleDelete(true);
    // A search must see writes made a moment before (push checks canonicals, then writes).
    settings.setReuseCachedSearchResultsForMillis(null);
    return settings;
  }

  @Bean
  public SubscriptionSettings subscriptionSettings() {
    return new SubscriptionSettings();
  }

  @Bean
  public PartitionSettings partitionSettings() {
    return new PartitionSettings();
  }

  @Primary
  @Bean
  public LocalContainerEntityManagerFactoryBean entityManagerFactory(
      ConfigurableListableBeanFactory beanFactory, FhirContext fhirContext, JpaStorageSettings settings,
      DataSource dataSource) {
    LocalContainerEntityManagerFactoryBean factory =
        HapiEntityManagerFactoryUtil.newEntityManagerFactory(beanFactory, fhirContext, settings);
    factory.setPersistenceUnitName("HAPI_PU");
    factory.setDataSource(dataSource);
    factory.setJpaPropertyMap(Map.of(
        "hibernate.dialect", HapiFhirH2Dialect.class.getName(),
        "hibernate.hbm2ddl.auto", "update",
        "hibernate.search.enabled", "false",
        "hibernate.jdbc.batch_size", "20",
        "hibernate.cache.use_second_level_cache", "false",
        "hibernate.cache.use_query_cache", "false"));
    return factory;
  }

  @Primary
  @Bean
  public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
    return new JpaTransactionManager(entityManagerFactory);
  }

  @Bean
  public IFulltextSearchSvc fullTextSearchSvc() {
    return new FulltextSearchSvcImpl();
  }

  @Bean
  public IStaleSearchDeletingSvc staleSearchDeletingSvc() {
    return new StaleSearchDeletingSvcImpl();
  }

  @Bean
  public DatabaseBackedPagingProvider pagingProvider() {
    return new DatabaseBackedPagingProvider();
  }

  @Bean
  public IResourceSupportedSvc resourceSupportedSvc(DaoRegistry daoRegistry) {
    return new DaoRegistryResourceSupportedSvc(daoRegistry);
  }

  @Bean(name = "myResourceCountsCache")
  public ResourceCountCache resourceCountsCache(IFhirSystemDao<?, ?> systemDao) {
    return ResourceCountCacheUtil.newResourceCountCache(systemDao);
  }

  @Bean
  public IHSearchSortHelper hSearchSortHelper(ISearchParamRegistry searchParamRegistry) {
    return new HSearchSortHelperImpl(searchParamRegistry);
  }

  @Bean
  public RestfulServer restfulServer(IFhirSystemDao<?, ?> systemDao, ResourceProviderFactory providers,
      IJpaSystemProvider systemProvider, JpaStorageSettings settings, ISearchParamRegistry searchParams,
      IValidationSupport validationSupport, DatabaseBackedPagingProvider paging,
      ValueSetOperationProvider valueSetOperations) {
    RestfulServer server = new RestfulServer(systemDao.getContext());
    server.registerProviders(providers.createProviders());
    server.registerProvider(systemProvider);
    server.registerProvider(valueSetOperations);
    server.setServerConformanceProvider(
        new JpaCapabilityStatementProvider(server, systemDao, settings, searchParams, validationSupport));
    server.setPagingProvider(paging);
    server.setDefaultResponseEncoding(EncodingEnum.JSON);
    server.registerInterceptor(new CorsInterceptor(cors()));
    return server;
  }

  /**
   * CORS, so a browser client (the CDS Hooks Sandbox, a SMART app) can read this test server.
   * Origins from the property evidencekit.cors.origins (comma-separated); every origin by default:
   * this is a local test server with synthetic data, bound to 127.0.0.1.
   */
  private static CorsConfiguration cors() {
    CorsConfiguration config = new CorsConfiguration();
    for (String origin : System.getProperty("evidencekit.cors.origins", "*").split(",")) {
      config.addAllowedOriginPattern(origin.trim());
    }
    config.setAllowedMethods(List.of("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"));
    config.setAllowedHeaders(List.of("Authorization", "Content-Type", "Accept", "Prefer", "If-Match",
        "If-None-Exist", "Cache-Control", "X-Requested-With"));
    config.setExposedHeaders(List.of("Location", "Content-Location", "ETag", "Last-Modified"));
    config.setAllowCredentials(false);
    return config;
  }

  @Bean
  public ServletRegistrationBean<RestfulServer> fhirServlet(RestfulServer server,
      AutowireCapableBeanFactory beanFactory) {
    beanFactory.autowireBean(server);
    ServletRegistrationBean<RestfulServer> registration = new ServletRegistrationBean<>(server, "/fhir/*");
    registration.setLoadOnStartup(1);
    return registration;
  }
}

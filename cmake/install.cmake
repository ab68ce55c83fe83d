# install.cmake: `cmake --install BUILD [--prefix P]` puts cogo where a
# user's project finds it:
#   bin/cogo-server, bin/cogo-load
#   include/cogo/...            the public headers of every layer (include/ only:
#                               private/ and src/ are never installed)
#   lib/libcogo_*.a, libllhttp.a
#   lib/cmake/cogo/             find_package(cogo) -> cogo::runtime, cogo::net,
#                               cogo::server, cogo::middleware
#   lib/pkgconfig/cogo.pc       pkg-config --cflags --libs cogo
# The libraries are static, so each exported target also names what it links
# privately (Boost.Context, OpenSSL, spdlog): cogoConfig.cmake finds those.
include(CMakePackageConfigHelpers)

set(COGO_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/cogo)
set(COGO_EXPORTED_TARGETS)
foreach(pair cogo_runtime:runtime cogo_netpoll:net cogo_server:server cogo_middleware:middleware
             llhttp:llhttp)
  string(REPLACE ":" ";" pair ${pair})
  list(GET pair 0 target)
  list(GET pair 1 name)
  if(TARGET ${target})
    set_target_properties(${target} PROPERTIES EXPORT_NAME ${name})
    add_library(cogo::${name} ALIAS ${target})
    list(APPEND COGO_EXPORTED_TARGETS ${target})
  endif()
endforeach()
install(TARGETS ${COGO_EXPORTED_TARGETS} EXPORT cogoTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
foreach(layer runtime netpoll server middleware)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${layer}/include)
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${layer}/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  endif()
endforeach()
foreach(bin cogo-server cogo-load)
  if(TARGET ${bin})
    install(TARGETS ${bin} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

install(EXPORT cogoTargets NAMESPACE cogo:: DESTINATION ${COGO_INSTALL_CMAKEDIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/cogoConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/cogoConfig.cmake
                              INSTALL_DESTINATION ${COGO_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cogoConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cogoConfig.cmake ${PROJECT_BINARY_DIR}/cogoConfigVersion.cmake
        DESTINATION ${COGO_INSTALL_CMAKEDIR})

configure_file(${PROJECT_SOURCE_DIR}/cmake/cogo.pc.in ${PROJECT_BINARY_DIR}/cogo.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cogo.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

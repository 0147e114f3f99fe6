# PLASCALE_CUDA=AUTO builds the CUDA parts when nvcc is found, ON requires it, OFF skips it.
# PLASCALE_HAVE_CUDA tells the modules which way it went.
set(PLASCALE_CUDA "AUTO" CACHE STRING "Build the CUDA backend: AUTO, ON or OFF")
set_property(CACHE PLASCALE_CUDA PROPERTY STRINGS AUTO ON OFF)

set(PLASCALE_HAVE_CUDA OFF)
if(NOT PLASCALE_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # sm_90 (H100/H200) machine code plus PTX for newer GPUs.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90-real 90-virtual)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(PLASCALE_HAVE_CUDA ON)
  elseif(PLASCALE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "PLASCALE_CUDA=ON but no CUDA compiler (nvcc) was found; "
                        "install the CUDA Toolkit or configure with -DPLASCALE_CUDA=AUTO|OFF")
  endif()
endif()
message(STATUS "plascale: CUDA backend ${PLASCALE_HAVE_CUDA} (PLASCALE_CUDA=${PLASCALE_CUDA})")

#version 330 core
// A lit mesh of a 3D effect; positions in the asset's own space, moved into camera space
// by u_model_view (pose x placement x node transform). Skinned meshes are skinned here
// (SKINNED: up to 4 of u_joints a vertex, matrices into asset space, whose node transform is
// then the identity); morph targets arrive applied (arfx.render.gltf_anim, on the CPU).
// Variants (defines, see object.frag): SKINNED for skinned meshes, and the uvs and tangents
// passed on only where a map reads them, since llvmpipe shades vertices on the drawing thread
// and runs both sides of a branch.
#if defined(BASE_MAP) || defined(METALLIC_ROUGHNESS_MAP) || defined(NORMAL_MAP) || defined(OCCLUSION_MAP) \
    || defined(EMISSIVE_MAP)
#define ANY_MAP
#endif
in vec3 in_position;
in vec3 in_normal;
in vec2 in_uv;
in vec4 in_color;
in vec4 in_tangent;   // xyz along +u, w handedness; w = 0: the mesh has no tangents
in vec2 in_uv1;
#ifdef SKINNED
in vec4 in_joints;    // skinned meshes only
in vec4 in_weights;
uniform mat4 u_joints[64];
#endif
uniform mat4 u_model_view;
uniform mat3 u_normal_matrix;
uniform mat4 u_projection;
out vec3 v_position;
out vec3 v_normal;
out vec4 v_color;
#ifdef ANY_MAP
out vec2 v_uv;
out vec2 v_uv1;
#endif
#ifdef NORMAL_MAP
out vec4 v_tangent;
#endif

void main() {
    vec4 local = vec4(in_position, 1.0);
    vec3 normal = in_normal;
    vec3 tangent = in_tangent.xyz;
#ifdef SKINNED
    mat4 skin = in_weights.x * u_joints[int(in_joints.x)] + in_weights.y * u_joints[int(in_joints.y)]
              + in_weights.z * u_joints[int(in_joints.z)] + in_weights.w * u_joints[int(in_joints.w)];
    local = skin * local;
    normal = mat3(skin) * normal;
    tangent = mat3(skin) * tangent;
#endif
    vec4 position = u_model_view * local;
    v_position = position.xyz;
    v_normal = u_normal_matrix * normal;
#ifdef NORMAL_MAP
    v_tangent = vec4(mat3(u_model_view) * tangent, in_tangent.w);
#endif
#ifdef ANY_MAP
    v_uv = in_uv;
    v_uv1 = in_uv1;
#endif
    v_color = in_color;
    gl_Position = u_projection * position;
}

#version 330 core
// Lambert diffuse + Blinn-Phong specular from a key light and a fill light, computed in
// linear light; base colour textures are sRGB textures (decoded by the sampler) and the
// result is encoded to sRGB here because the render target stores sRGB values.
in vec3 v_position;
in vec3 v_normal;
in vec2 v_uv;
in vec4 v_color;
uniform vec4 u_base_color;      // linear RGBA (glTF baseColorFactor)
uniform bool u_has_texture;
uniform sampler2D u_texture;
uniform float u_metallic;
uniform float u_roughness;
uniform int u_alpha_mode;       // 0 opaque, 1 mask, 2 blend
uniform float u_alpha_cutoff;
uniform bool u_unlit;
out vec4 f_color;

const vec3 KEY_DIR = normalize(vec3(-0.4, 0.6, 0.7));   // camera space, towards the light
const vec3 FILL_DIR = normalize(vec3(0.6, -0.1, 0.5));
const vec3 AMBIENT = vec3(0.22);

vec3 linear_to_srgb(vec3 c) {
    c = clamp(c, 0.0, 1.0);
    return mix(c * 12.92, 1.055 * pow(c, vec3(1.0 / 2.4)) - 0.055, step(0.0031308, c));
}

void main() {
    vec4 base = u_base_color * v_color;
    if (u_has_texture) {
        base *= texture(u_texture, v_uv);
    }
    if (u_alpha_mode == 1 && base.a < u_alpha_cutoff) {
        discard;
    }
    float alpha = u_alpha_mode == 2 ? base.a : 1.0;
    if (u_unlit) {
        f_color = vec4(linear_to_srgb(base.rgb), alpha);
        return;
    }
    vec3 n = normalize(v_normal);
    vec3 view = normalize(-v_position);
    if (!gl_FrontFacing) {
        n = -n;
    }
    float shininess = clamp(2.0 / max(pow(u_roughness, 4.0), 1e-4) - 2.0, 4.0, 512.0);
    vec3 specular_color = mix(vec3(0.04), base.rgb, u_metallic);
    vec3 diffuse_color = base.rgb * (1.0 - u_metallic);
    vec3 diffuse = AMBIENT * base.rgb;
    vec3 specular = vec3(0.0);
    vec3 dirs[2] = vec3[2](KEY_DIR, FILL_DIR);
    float strengths[2] = float[2](0.95, 0.35);
    for (int i = 0; i < 2; ++i) {
        float lambert = max(dot(n, dirs[i]), 0.0);
        vec3 h = normalize(dirs[i] + view);
        float spec = pow(max(dot(n, h), 0.0), shininess) * (shininess + 8.0) / 25.0;
        diffuse += strengths[i] * lambert * diffuse_color;
        specular += strengths[i] * lambert * specular_color * spec;
    }
    if (u_alpha_mode == 2) {
        // A reflection is not dimmed by the surface's transparency: glossy lenses keep
        // their highlights (otherwise they would vanish with the alpha).
        float shine = max(max(specular.r, specular.g), specular.b);
        alpha = clamp(alpha + shine, 0.0, 1.0);
    }
    f_color = vec4(linear_to_srgb(diffuse + specular), alpha);
}
